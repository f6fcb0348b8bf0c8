"""A requests-mock stand-in for Graph's JSON batching endpoint (graph.md §7), shared by the bulk and performance tests.

`BatchDouble(requests_mock, answer)` answers `POST https://graph.microsoft.com/v1.0/$batch`: each sub-request goes to
`answer(sub, attempt)` (attempt = how many times this id was received before), which returns (status, body, headers).
Like Graph it enforces the 20-request limit, `Content-Type` on sub-requests with a body, relative urls, known
dependsOn ids, answers a dependent of a failed request with 424, and returns the answers in another order.
"""
from collections import Counter
from collections.abc import Callable
from typing import Any

GRAPH_BATCH_URL = 'https://graph.microsoft.com/v1.0/$batch'
Answer = tuple[int, Any, dict[str, str]]


def ok(sub: dict, attempt: int) -> Answer:
    """Graph's success answer for each method: 204 for PATCH / DELETE, a body for GET and POST."""
    if sub['method'] in ('PATCH', 'DELETE'):
        return 204, None, {}
    if sub['method'] == 'GET':
        key = sub['url'].split('?')[0].rsplit('/', 1)[-1]
        return 200, {'id': f'id-of-{key}', 'displayName': f'Name {key}'}, {'Content-Type': 'application/json'}
    return 200, {'value': True}, {'Content-Type': 'application/json'}


def graph_error(status: int, code: str, message: str, retry_after: str | None = None) -> Answer:
    headers = {'Content-Type': 'application/json', **({'Retry-After': retry_after} if retry_after else {})}
    return status, {'error': {'code': code, 'message': message}}, headers


class BatchDouble:
    """Records every $batch body it received (`bodies`) and answers each sub-request through `answer`."""

    def __init__(self, requests_mock: Any, answer: Callable[[dict, int], Answer] = ok) -> None:
        self.answer = answer
        self.bodies: list[list[dict]] = []
        self.attempts: Counter[str] = Counter()
        requests_mock.post(GRAPH_BATCH_URL, json=self.respond)

    def respond(self, request: Any, context: Any) -> dict:
        subs = request.json()['requests']
        self.bodies.append(subs)
        assert 1 <= len(subs) <= 20, len(subs)
        ids = [sub['id'] for sub in subs]
        assert len(ids) == len(set(ids)), ids
        results: dict[str, dict] = {}
        for sub in subs:
            assert sub['url'].startswith('/') and '://' not in sub['url'], sub['url']
            if 'body' in sub:
                assert sub['headers']['Content-Type'] == 'application/json', sub
            for dependency in sub.get('dependsOn') or []:
                assert dependency in ids, (sub, ids)
            failed = [d for d in sub.get('dependsOn') or [] if not 200 <= results[d]['status'] < 300]
            if failed:
                answer: Answer = graph_error(424, 'FailedDependency', 'Dependent request failed.')
            else:
                answer = self.answer(sub, self.attempts[sub['id']])
            self.attempts[sub['id']] += 1
            status, body, headers = answer
            results[sub['id']] = {'id': sub['id'], 'status': status, 'headers': headers,
                                  **({'body': body} if body is not None else {})}
        return {'responses': list(reversed(results.values()))}

    @property
    def sub_requests(self) -> list[dict]:
        return [sub for body in self.bodies for sub in body]
