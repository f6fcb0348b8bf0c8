"""Entra ID Users (Microsoft Graph User) for Cortex XSOAR.

Layout: constants, pure helpers (argument parsing and output shaping, no I/O), the `Client` (Graph calls), one
`*_command(client, args)` per command, then `main()` with the dispatch table. Authentication, retries and error
parsing live in MicrosoftApiModule (`MicrosoftClient`).
"""
import demistomock as demisto  # noqa: F401, I001
from CommonServerPython import *  # noqa: F401
from CommonServerUserPython import *  # noqa: F401

import functools
import io
import json
import re
import time
import urllib.parse
import uuid
from collections.abc import Callable
from datetime import UTC
from typing import Any, NamedTuple
from xml.etree import ElementTree

from MicrosoftApiModule import *  # noqa: E402

# ---------------------------------------------------------------------------------------------------------------
# Constants
# ---------------------------------------------------------------------------------------------------------------

INTEGRATION_NAME = 'Microsoft Graph User'
ACCOUNT_TYPE = 'Azure AD'
# Graph answers these codes when the addressed object does not exist (graph.md §9).
NOT_FOUND_CODES = frozenset({'Request_ResourceNotFound', 'ResourceNotFound', 'itemNotFound', 'NotFound',
                             'notFound', 'Directory_ObjectNotFound'})
DEFAULT_LIST_LIMIT = 50
USERS_PAGE_MAX = 999
# A hard cap for all_results, so one command cannot exhaust memory on a huge tenant: MicrosoftApiModule's cap of a
# paged read (200,000; a 50,000-user tenant is 51 pages of 999).
ALL_RESULTS_CAP = MAX_PAGED_ITEMS
ADVANCED_QUERY_HEADERS = {'ConsistencyLevel': 'eventual'}
# Graph caps a /users page at 120 when signInActivity is selected or filtered (graph.md §3).
SIGN_IN_ACTIVITY_PAGE_MAX = 120
# Entry-context keys (commands.md §4 D8): users and accounts merge on their object id.
USER_CONTEXT_KEY = 'MSGraphUser(val.ID && val.ID == obj.ID)'
ACCOUNT_CONTEXT_KEY = 'Account(val.ID && val.ID == obj.ID)'
# A list cursor lives in its own element of the list it pages through; this selector matches only that element,
# so each run replaces the previous cursor (and `val.NextPage.indexOf`-style selectors would throw on users).
NEXT_PAGE_SELECTOR = '(val.NextPage !== undefined)'
# Characters that cannot occur in a userPrincipalName or object id (kept from the previous release, §6).
UNSUPPORTED_USER_CHARS = frozenset('%&*+/=?`{|}')


# ---------------------------------------------------------------------------------------------------------------
# Pure helpers: key conversion and output shaping (commands.md §1.3, §1.4)
# ---------------------------------------------------------------------------------------------------------------

def readable_key(key: str) -> str:
    """Return the war-room form of a Graph property name: `createdDateTime` -> `Created Date Time`, `id` -> `ID`."""
    if key == 'id':
        return 'ID'
    return re.sub(r'([A-Z])', r' \1', key).title()


def context_key(key: str) -> str:
    """Return the context form of a Graph property name: the readable form without spaces (`CreatedDateTime`)."""
    return readable_key(key).replace(' ', '')


def _convert_keys(obj: dict, convert: Callable[[str], str]) -> dict:
    converted = {convert(key): value for key, value in obj.items() if key != '@removed'}
    if '@removed' in obj:
        # Delta marks deleted users with '@removed'; playbooks read `Status: deleted` (and the reason, added here).
        converted['Status'] = 'deleted'
        removed = obj.get('@removed')
        if isinstance(removed, dict) and removed.get('reason'):
            converted['RemovedReason'] = removed['reason']
    return converted


def to_readable(obj: dict) -> dict:
    """Return `obj` with top-level keys in readable form; nested values are kept as they are."""
    return _convert_keys(obj, readable_key)


def to_context(obj: dict) -> dict:
    """Return `obj` with top-level keys in context form; nested values are kept as they are."""
    return _convert_keys(obj, context_key)


def drop_odata_metadata(obj: dict, *, keep_type: bool = True) -> dict:
    """Return `obj` without `@odata.context` (and without `@odata.type` unless `keep_type`)."""
    dropped = {'@odata.context'} if keep_type else {'@odata.context', '@odata.type'}
    return {key: value for key, value in obj.items() if key not in dropped}


def user_to_account(user: dict) -> dict:
    """Return the XSOAR `Account` standard entry for a user already in context form."""
    return {
        'Type': ACCOUNT_TYPE,
        'ID': user.get('ID'),
        'DisplayName': user.get('DisplayName'),
        'Username': user.get('UserPrincipalName'),
        'JobTitle': user.get('JobTitle'),
        'Email': {'Address': user.get('Mail')},
        'TelephoneNumber': user.get('MobilePhone'),
        'Office': user.get('OfficeLocation'),
    }


# ---------------------------------------------------------------------------------------------------------------
# Pure helpers: argument parsing
# ---------------------------------------------------------------------------------------------------------------

def required_arg(args: dict, name: str) -> str:
    """Return the stripped string value of a required argument; raise ValueError naming it when it is empty."""
    value = args.get(name)
    if value is None or str(value).strip() == '':
        raise ValueError(f'The "{name}" argument is required.')
    return str(value).strip()


def user_path(user: str, arg_name: str = 'user') -> str:
    """Return the `users/{user}` path for an object id or userPrincipalName, encoded with nothing left safe.

    A UPN that starts with `$` must use the key form `users('$name@domain')` (graph.md §1).
    Raises ValueError naming `arg_name` for an empty value or a control character.
    """
    if user.startswith('$'):
        return f"users({path_segment(odata_quote(user), arg_name)})"
    return f'users/{path_segment(user, arg_name)}'


def path_segment(value: str, arg_name: str) -> str:
    """Return `value` encoded as one URL path segment, nothing left safe (MicrosoftApiModule's encode_path_segment).

    Raises ValueError naming `arg_name` for an empty value, a control character or a dot-only value (`..` would
    leave the intended path).
    """
    return encode_path_segment(value, arg_name)


def parse_key_value_pairs(text: str, delimiter: str, arg_name: str) -> dict[str, Any]:
    """Parse `key=value<delimiter>key=value` into a dict whose values keep their JSON types.

    Each pair is split on its first `=` only, so values may contain `=`. The literals `true`, `false`, `null`,
    numbers and JSON arrays/objects become JSON values; anything else stays a string.
    Raises ValueError naming `arg_name` and the offending pair.
    """
    if not delimiter:
        raise ValueError(f'The delimiter for "{arg_name}" must not be empty.')
    result: dict[str, Any] = {}
    for pair in text.split(delimiter):
        if not pair.strip():
            continue
        key, sep, raw_value = pair.partition('=')
        key = key.strip()
        if not sep or not key:
            raise ValueError(f'Invalid pair "{pair.strip()}" in "{arg_name}": expected key=value.')
        result[key] = parse_json_literal(raw_value.strip())
    return result


def parse_json_literal(value: str) -> Any:
    """Return `value` as a JSON boolean, null, array or object when it is one, else the string itself.

    Numbers stay strings: most user properties that look numeric (employeeId, postalCode, officeLocation,
    phone numbers) are strings in Graph, which rejects a JSON number for them. Typed numbers go through the
    `*_json` arguments.
    """
    if value in ('true', 'false', 'null') or value[:1] in ('[', '{'):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def parse_json_object_arg(args: dict, name: str) -> dict[str, Any]:
    """Return the JSON object given in argument `name` (empty dict when absent); raise ValueError naming it."""
    raw = args.get(name)
    if raw in (None, ''):
        return {}
    if isinstance(raw, dict):
        return raw
    try:
        value = json.loads(raw)
    except (TypeError, json.JSONDecodeError) as error:
        reason = error.msg if isinstance(error, json.JSONDecodeError) else error
        raise ValueError(f'The "{name}" argument must be a JSON object: {reason}') from None
    if not isinstance(value, dict):
        raise ValueError(f'The "{name}" argument must be a JSON object.')
    return value


def limit_arg(args: dict, default: int | None = DEFAULT_LIST_LIMIT) -> int | None:
    """Return the item limit of a list command: None with `all_results=true` (up to ALL_RESULTS_CAP), else `limit`.

    Raises ValueError naming the argument when `limit` is not a positive whole number.
    """
    if argToBoolean(args.get('all_results') or False):
        return None
    raw = args.get('limit')
    if raw in (None, ''):
        return default
    limit = arg_to_number(raw, arg_name='limit')
    if limit is None or limit < 1:
        raise ValueError('The "limit" argument must be a positive whole number.')
    return limit


def bool_arg(args: dict, name: str, default: bool) -> bool:
    """Return a boolean argument (true/false/yes/no in any case); raise ValueError naming it for anything else."""
    raw = args.get(name)
    if raw is None or raw == '':
        return default
    try:
        return argToBoolean(raw)
    except ValueError:
        raise ValueError(f'The "{name}" argument must be true or false, not "{raw}".') from None


def secret_arg(args: dict, name: str) -> str:
    """Return a required secret argument as given (not stripped); the error names it but never shows the value."""
    value = args.get(name)
    if not isinstance(value, str) or value == '':
        raise ValueError(f'The "{name}" argument is required.')
    return value


def positive_int_arg(args: dict, name: str, default: int) -> int:
    """Return a positive whole-number argument, or `default` when it is absent; raise ValueError naming it."""
    raw = args.get(name)
    if raw is None or raw == '':
        return default
    value = arg_to_number(raw, arg_name=name)
    if value is None or value < 1:
        raise ValueError(f'The "{name}" argument must be a positive whole number.')
    return value


def csv_items(value: Any) -> list[str]:
    """Return the stripped, non-empty items of a comma-separated argument (an empty item breaks `$select`)."""
    if value is None or value == '':
        return []
    return [item.strip() for item in str(value).split(',') if item.strip()]


def select_list(properties: Any, *always: str) -> list[str]:
    """Return the `$select` items of `properties` followed by `always`, without case-insensitive duplicates.

    `*` (every property) absorbs the others.
    """
    items = csv_items(properties)
    if '*' in items:
        return ['*']
    result: list[str] = []
    for item in [*items, *always]:
        if item.lower() not in {existing.lower() for existing in result}:
            result.append(item)
    return result


def page_size(limit: int | None, page_max: int) -> int:
    """Return the `$top` that reads `limit` items in the fewest pages of at most `page_max`, split evenly.

    Even pages keep the last page from being cut, which would make the returned cursor skip its rest.
    """
    if limit is None:
        return page_max
    pages = -(-limit // page_max)
    return -(-limit // pages)


def graph_link_arg(args: dict, name: str, graph_bases: tuple[str, ...], resource: str | None = None) -> str | None:
    """Return the Graph URL given in argument `name` (None when absent), checked to be under one of `graph_bases`
    and, with `resource` (a regular expression), to address that resource: its path below the base must match it.

    Such links (next_page, delta_link, polling_url) are requested verbatim with the instance's bearer token, so a
    URL anywhere else is refused before any request - and so is one that names another resource on the same host,
    also through '.' / '..' segments, which are resolved before the request is sent: a command may read only what
    it reads itself. Raises ValueError naming the argument.
    """
    raw = args.get(name)
    if raw is None or raw == '':
        return None
    link = str(raw).strip()
    if re.search(r'[\x00-\x20\x7f]', link):
        raise ValueError(f'The "{name}" argument must be a URL without spaces or control characters.')
    base = next((base for base in graph_bases if link.startswith(base)), None)
    if base is None:
        raise ValueError(f'The "{name}" argument must be a Microsoft Graph URL starting with {graph_bases[0]}')
    path = re.split(r'[?#]', link[len(base):], maxsplit=1)[0]
    if any(urllib.parse.unquote(segment) in ('.', '..') or '\\' in urllib.parse.unquote(segment)
           for segment in path.split('/')):
        raise ValueError(f'The "{name}" argument must not contain "." or ".." path segments or backslashes.')
    if resource is not None and not re.fullmatch(resource, path, flags=re.IGNORECASE):
        raise ValueError(f'The "{name}" argument links to another resource ("{ms_short_text(path, 100)}"); it must '
                         'continue what this command reads.')
    return link


# The paths (below the version root) a link argument may address. Graph's links may name a user by object id where
# the command was given a UPN, or by key form (`users('$x@y')`), so any one user key is accepted.
USER_KEY_PATTERN = r"users(?:/[^/]+|\([^/]*\))"
DELTA_LINK_RESOURCE = r'users/delta(?:\(\))?'
# The status URL Graph gives for a password reset (Location): users/{id}/authentication/operations/{id}.
PASSWORD_RESET_LINK_RESOURCE = USER_KEY_PATTERN + r'/authentication/operations/[^/]+'


def link_resource(path: str) -> str:
    """The `graph_link_arg` resource of links that continue reading the collection at `path`: the same collection,
    for any user key."""
    match = re.match(USER_KEY_PATTERN + r'(?=/|$)', path)
    return USER_KEY_PATTERN + re.escape(path[match.end():]) if match else re.escape(path)


def properties_from_args(args: dict, pairs_arg: str, json_arg: str, delimiter_arg: str) -> dict[str, Any]:
    """Return the user properties given as `key=value` pairs in `pairs_arg` and as a JSON object in `json_arg`.

    A key given in both is refused rather than silently picking one. Raises ValueError naming the argument.
    """
    delimiter = args.get(delimiter_arg)
    if delimiter not in (None, '') and not isinstance(delimiter, str):
        raise ValueError(f'The "{delimiter_arg}" argument must be text, such as "," or ";".')
    pairs = parse_key_value_pairs(str(args.get(pairs_arg) or ''), ',' if delimiter in (None, '') else delimiter,
                                  pairs_arg)
    typed = parse_json_object_arg(args, json_arg)
    both = sorted(set(pairs) & set(typed))
    if both:
        raise ValueError(f'The properties {", ".join(both)} are given in both "{pairs_arg}" and "{json_arg}"; '
                         'give each property once.')
    return {**pairs, **typed}


def unsupported_user_chars(user: str | None) -> set[str]:
    """Return the characters of `user` that no userPrincipalName or object id can contain."""
    return set(user or '') & UNSUPPORTED_USER_CHARS


# ---------------------------------------------------------------------------------------------------------------
# Pure helpers: outputs shared by list commands and user commands (commands.md §1.5, §4 D8)
# ---------------------------------------------------------------------------------------------------------------

def next_page_context(prefix: str, next_link: str | None) -> dict[str, dict]:
    """Return the entry context of a list cursor under `prefix` (e.g. `MSGraphUser` -> `MSGraphUser.NextPage`).

    The cursor is one element of its own, replaced on every run: the URL to continue from, or None when the
    listing is complete, so a stale cursor of an earlier run never survives.
    """
    return {f'{prefix}{NEXT_PAGE_SELECTOR}': {'NextPage': next_link}}


def next_page_metadata(next_link: str | None, noun: str = 'argument') -> str | None:
    """Return the war-room line that tells how to continue a listing, or None when there is nothing more."""
    if not next_link:
        return None
    return f'To get further results, enter this to the next_page {noun}:\n{next_link}'


def users_context(users: dict | list[dict]) -> dict[str, Any]:
    """Return the entry context of users already in context form: `MSGraphUser` and `Account`, merged on ID."""
    if isinstance(users, list):
        return {USER_CONTEXT_KEY: users, ACCOUNT_CONTEXT_KEY: [user_to_account(user) for user in users]}
    return {USER_CONTEXT_KEY: users, ACCOUNT_CONTEXT_KEY: user_to_account(users)}


# ---------------------------------------------------------------------------------------------------------------
# Not-found handling (commands.md §1.6, D10): decided from Graph's error code and from which object was addressed
# ---------------------------------------------------------------------------------------------------------------

def is_not_found(error: Exception) -> bool:
    """Return True when `error` is Graph's answer that the addressed object does not exist."""
    return isinstance(error, GraphError) and error.status == 404 and (error.code in NOT_FOUND_CODES or not error.code)


def user_not_found_text(user: str) -> str:
    return f'#### User -> {user} does not exist'


def manager_not_found_text(manager: str) -> str:
    return f'#### Manager -> {manager} does not exist'


def method_not_found_text(method_id: str, user: str) -> str:
    return f'#### Did not find the method_id {method_id} for user {user}'


# ---------------------------------------------------------------------------------------------------------------
# Client: Graph calls of this integration (transport, auth and errors are MicrosoftClient's)
# ---------------------------------------------------------------------------------------------------------------

class Client(MicrosoftClient):
    """Microsoft Graph client for user management.

    `handle_error` mirrors the instance's "Suppress Errors for Non Found Users" checkbox; `allow_secret_generators`
    gates the MFA secret/token commands.
    """

    def __init__(self, settings: AuthSettings, command: str = '', handle_error: bool = True,
                 allow_secret_generators: bool = False) -> None:
        super().__init__(settings, command=command)
        self.handle_error = handle_error
        self.allow_secret_generators = allow_secret_generators

    def user_exists(self, user: str) -> bool:
        """Return False when Graph says the user does not exist; re-raise any other error."""
        try:
            self.http_request('GET', user_path(user), params={'$select': 'id'})
        except GraphError as error:
            if is_not_found(error):
                return False
            raise
        return True


# ---------------------------------------------------------------------------------------------------------------
# The 404 wrapper shared by every command that addresses a user (commands.md §1.6, D10)
# ---------------------------------------------------------------------------------------------------------------

def not_found_result(client: Client, args: dict, user_arg: str = 'user',
                     other: tuple[str, str] | None = None,
                     user_note: Callable[[str, GraphError], str] | None = None,
                     error: GraphError | None = None) -> CommandResults:
    """Return the readable note for a 404 on a command addressing `args[user_arg]`.

    `other` is (kind, arg name) of a second object the request addressed ('manager' or 'method'). The message text
    alone cannot tell which of the two is missing, so one GET of the user decides. `user_note(user, error)`
    replaces the standard missing-user text (msgraph-user-get keeps its own older text).
    """
    # Stripped as the command stripped it, so the existence check addresses the same user.
    user = str(args.get(user_arg) or '').strip()
    if other and args.get(other[1]) and client.user_exists(user):
        kind, arg_name = other
        other_value = str(args[arg_name]).strip()
        text = manager_not_found_text(other_value) if kind == 'manager' else method_not_found_text(other_value, user)
        return CommandResults(readable_output=text)
    if user_note is not None and error is not None:
        return CommandResults(readable_output=user_note(user, error))
    return CommandResults(readable_output=user_not_found_text(user))


def handles_not_found(user_arg: str = 'user', other: tuple[str, str] | None = None,
                      user_note: Callable[[str, GraphError], str] | None = None) -> Callable:
    """Decorate a command so that, with `handle_error` on, a Graph 404 becomes the readable not-found note.

    With `handle_error` off the GraphError propagates and becomes an error entry. `user_note` is passed to
    `not_found_result`.
    """
    def decorator(command: Callable[[Client, dict], Any]) -> Callable[[Client, dict], Any]:
        @functools.wraps(command)
        def wrapper(client: Client, args: dict) -> Any:
            try:
                return command(client, args)
            except GraphError as error:
                if client.handle_error and is_not_found(error):
                    return not_found_result(client, args, user_arg, other, user_note, error)
                raise
        return wrapper
    return decorator


# ---------------------------------------------------------------------------------------------------------------
# Bulk user commands: `user` may name several users, handled through JSON batching (graph.md §7)
# ---------------------------------------------------------------------------------------------------------------

# One row per user, merged on the user as given, so a later run on the same user replaces its row.
BULK_RESULT_KEY = 'MSGraphUser.BulkResult(val.User && val.User == obj.User)'
BULK_HEADERS = ['User', 'Status', 'Result']


class BulkStep(NamedTuple):
    """One Graph request a bulk command sends for each user, on `users/{user}` + `suffix`."""
    method: str
    suffix: str = ''
    body: dict | None = None
    params: dict | None = None


class BulkAction(NamedTuple):
    """What a bulk command does to each user: its steps (one $batch sub-request each; every step depends on the one
    before it, for the same user) and how the result table reads."""
    title: str                    # e.g. 'Disable user accounts'
    done: str                     # the Result of a user for whom every step succeeded
    steps: tuple[BulkStep, ...]
    returns_users: bool = False   # msgraph-user-get: the users read are also written to MSGraphUser / Account


class BulkOutcome(NamedTuple):
    """What happened to one user: the status of the first step that failed (else of the last step), Graph's error
    code and message, and the body of the last step (msgraph-user-get: the user)."""
    user: str
    status: int
    code: str = ''
    message: str = ''
    body: Any = None

    @property
    def success(self) -> bool:
        return 200 <= self.status < 300


def user_list_arg(args: dict) -> list[str]:
    """Return the users named in `user`: one value, a comma-separated list or a JSON array (argToList), each stripped,
    without empty items or case-insensitive repeats (a UPN or object id never contains a comma)."""
    raw = args.get('user')
    if raw is None or raw == '':
        return []
    users: list[str] = []
    for item in argToList(raw):
        text = '' if item is None else str(item).strip()
        if text and text.lower() not in {user.lower() for user in users}:
            users.append(text)
    return users


def bulk_request_id(user_index: int, step_index: int) -> str:
    return f'{user_index}.{step_index}'


def bulk_requests(users: list[str], steps: tuple[BulkStep, ...]) -> list[dict]:
    """Return the $batch sub-requests of `steps` for every user, each step depending on the previous one of the same
    user. Raises ValueError naming `user` for a value that cannot be a path segment, before anything is sent."""
    requests: list[dict] = []
    for user_index, user in enumerate(users):
        path = '/' + user_path(user)
        for step_index, step in enumerate(steps):
            query = f'?{ms_encode_query(step.params)}' if step.params else ''
            request: dict[str, Any] = {'id': bulk_request_id(user_index, step_index), 'method': step.method,
                                       'url': f'{path}{step.suffix}{query}'}
            if step.body is not None:
                request['body'] = step.body
            if step_index:
                request['dependsOn'] = [bulk_request_id(user_index, step_index - 1)]
            requests.append(request)
    return requests


def bulk_outcome(user: str, answers: list[dict]) -> BulkOutcome:
    """The outcome of one user from the answers to its steps, in step order."""
    for answer in answers:
        status = ms_batch_status(answer)
        if not 200 <= status < 300:
            return BulkOutcome(user, status, *ms_batch_error_fields(answer))
    return BulkOutcome(user, ms_batch_status(answers[-1]), body=answers[-1].get('body'))


def bulk_is_error(outcomes: list[BulkOutcome], handle_error: bool) -> bool:
    """Whether the entry is an error entry: only when no user succeeded - unless every failure is a user that does
    not exist and "Suppress Errors for Non Found Users" is checked (one such user gives a note, so several do too)."""
    if any(outcome.success for outcome in outcomes):
        return False
    not_found = all(outcome.status == 404 and (outcome.code in NOT_FOUND_CODES or not outcome.code)
                    for outcome in outcomes)
    return not (handle_error and not_found)


def bulk_result(action: BulkAction, outcomes: list[BulkOutcome], handle_error: bool) -> CommandResults:
    """One entry for a bulk command: a row per user (status, and what was done or Graph's error code and message),
    `MSGraphUser.BulkResult` context, and for msgraph-user-get the users read."""
    succeeded = sum(outcome.success for outcome in outcomes)
    rows = [{'User': outcome.user, 'Success': outcome.success, 'Status': outcome.status,
             'Error': None if outcome.success else f'{outcome.code}: {outcome.message}'} for outcome in outcomes]
    table = [{'User': row['User'], 'Status': row['Status'], 'Result': action.done if row['Success'] else row['Error']}
             for row in rows]
    readable = tableToMarkdown(f'{action.title}: {succeeded} of {len(outcomes)} users succeeded', table,
                               headers=BULK_HEADERS)
    outputs: dict[str, Any] = {BULK_RESULT_KEY: rows}
    if action.returns_users:
        found = [drop_odata_metadata(outcome.body) for outcome in outcomes
                 if outcome.success and isinstance(outcome.body, dict)]
        for user in found:
            user.pop('passwordProfile', None)
        if found:
            readable += '\n' + tableToMarkdown('Users data', [to_readable(user) for user in found], removeNull=True)
            outputs.update(users_context([to_context(user) for user in found]))
    return CommandResults(readable_output=readable, outputs=outputs, raw_response=rows,
                          entry_type=EntryType.ERROR if bulk_is_error(outcomes, handle_error) else EntryType.NOTE)


def bulk_user_command(client: Client, users: list[str], action: BulkAction) -> CommandResults:
    """Run `action` for every user in as few requests as Graph allows ($batch, 20 sub-requests each) and report each
    user: one user's failure never stops the others."""
    responses = client.batch(bulk_requests(users, action.steps))
    outcomes = [bulk_outcome(user, [responses[bulk_request_id(user_index, step_index)]
                                    for step_index in range(len(action.steps))])
                for user_index, user in enumerate(users)]
    return bulk_result(action, outcomes, client.handle_error)


def accepts_user_list(action: BulkAction | Callable[[dict], BulkAction]) -> Callable:
    """Decorate a single-user command so that `user` may also name several users (comma-separated or a JSON array).

    One user runs the command exactly as before (with `user` set to that value); several go through
    `bulk_user_command` with `action`, or with what `action(args)` returns when the arguments shape it (such a
    function validates its arguments, so bad input is refused before any request).
    """
    def decorator(command: Callable[[Client, dict], Any]) -> Callable[[Client, dict], Any]:
        @functools.wraps(command)
        def wrapper(client: Client, args: dict) -> Any:
            users = user_list_arg(args)
            if len(users) > 1:
                return bulk_user_command(client, users, action if isinstance(action, BulkAction) else action(args))
            return command(client, {**args, 'user': users[0]} if users else args)
        return wrapper
    return decorator


# ---------------------------------------------------------------------------------------------------------------
# Commands: authentication and utility (commands.md §2.1)
# ---------------------------------------------------------------------------------------------------------------

AUTH_CODE_TEST_MESSAGE = ('When using a self-deployed configuration with authorization code and redirect uri, Please '
                          'enable the integration and run the !msgraph-user-test command in order to test it')


def test_module(client: Client) -> str:
    """The Test button: one Graph call in every mode but authorization code, whose refresh token it could not keep."""
    if client.settings.mode == 'authorization_code':
        raise DemistoException(AUTH_CODE_TEST_MESSAGE)
    client.http_request('GET', 'users', params={'$top': '1', '$select': 'id'})
    return 'ok'


def test_command(client: Client, args: dict) -> CommandResults:
    """`msgraph-user-test`: one Graph call; in authorization-code mode this also redeems and keeps the code."""
    client.http_request('GET', 'users', params={'$top': '1', '$select': 'id'})
    return CommandResults(readable_output='```✅ Success!```')


def generate_login_url_command(client: Client, args: dict) -> CommandResults:
    """`msgraph-user-generate-login-url`: the authorize URL of the configured cloud and the steps to follow."""
    login_url = client.generate_login_url()
    return CommandResults(readable_output=(
        '### Authorization instructions\n'
        f'1. Click on the [login URL]({login_url}) to sign in and grant Cortex XSOAR permissions for Microsoft '
        'Graph.\n'
        'You will be automatically redirected to a link with the following structure:\n'
        '```REDIRECT_URI?code=AUTH_CODE&session_state=SESSION_STATE```\n'
        '2. Copy the `AUTH_CODE` (without the `code=` prefix, and the `session_state` parameter)\n'
        'and paste it in your instance configuration under the **Authorization code** parameter.'))


def auth_reset_command(client: Client, args: dict) -> CommandResults:
    """`msgraph-user-auth-reset`: forget every token, refresh token and backoff state of this instance."""
    client.reset_auth()
    return CommandResults(readable_output=(
        'Authorization was reset successfully. Please regenerate the credentials, and then click **Test** to '
        'validate the credentials and connection.'))


# ---------------------------------------------------------------------------------------------------------------
# Commands: users, relationships and passwords (commands.md §2.2–§2.4)
# ---------------------------------------------------------------------------------------------------------------

DEFAULT_LIST_PROPERTIES = 'id,displayName,jobTitle,mobilePhone,mail'
# Integration-context key of get-delta: {<normalised $select>: {'link': <link the next round starts from>,
# 'saved_at': <epoch seconds>}} (a bare link, as an earlier release kept it, is still read).
USER_DELTA_CONTEXT_KEY = 'graph_user_delta'
# Graph keeps the state behind a directory delta link for 7 days (graph.md §6): an older link is not even tried.
DELTA_LINK_MAX_AGE = 7 * 24 * 3600
# The largest delta page Graph may give (it may cap it lower); sent on every page of a round, as preferences are
# per request.
DELTA_PAGE_HEADERS = {'Prefer': f'odata.maxpagesize={USERS_PAGE_MAX}'}
# Waits before re-reading a user Graph has just changed but may not have replicated yet (graph.md §1).
READ_BACK_DELAYS = (1.0, 2.0, 4.0)
PASSWORD_RESET_COMMAND = 'msgraph-user-change-password-on-premise'
PASSWORD_RESET_RUNNING = frozenset({'notStarted', 'running'})
PASSWORD_RESET_CONTEXT = 'MSGraphUser.PasswordResetOperation'
POLL_INTERVAL_SECONDS = 30
POLL_TIMEOUT_SECONDS = 600
CREATE_USER_ARGS = {'accountEnabled': 'account_enabled', 'displayName': 'display_name',
                    'mailNickname': 'mail_nickname', 'onPremisesImmutableId': 'on_premises_immutable_id',
                    'passwordProfile': 'password', 'userPrincipalName': 'user_principal_name'}


def graph_base(client: Client, api_version: str = 'v1.0') -> str:
    """Return the Graph root URL of the instance's cloud, e.g. `https://graph.microsoft.com/v1.0/`."""
    base = client.graph_url('', api_version)
    return base if base.endswith('/') else f'{base}/'


def fetch_collection(client: Client, path: str, args: dict, *, default_limit: int | None = DEFAULT_LIST_LIMIT,
                     params: dict | None = None, headers: dict | None = None,
                     page_max: int | None = USERS_PAGE_MAX) -> tuple[list[dict], str | None]:
    """Return (items, link to continue from) of a Graph collection, paged by `limit`, `all_results`, `next_page`.

    `default_limit=None` reads one page of Graph's own size when no limit is given (what msgraph-user-list always
    did). A `next_page` link is followed verbatim, with the same headers as the first page. `page_max=None` is for
    endpoints that take no `$top` (most authentication-method collections): their pages are Graph's own.
    Raises ValueError naming a bad argument before any request.
    """
    all_results = bool_arg(args, 'all_results', False)
    limit = limit_arg(args, default_limit)
    next_page = graph_link_arg(args, 'next_page', (graph_base(client),), link_resource(path))
    request: dict[str, Any] = ({'full_url': next_page} if next_page
                               else {'url_suffix': path, 'params': dict(params or {})})
    if limit is None and not all_results:
        body = client.http_request('GET', headers=headers, **request) or {}
        return body.get('value', []), body.get('@odata.nextLink')
    if not next_page and page_max:
        request['params']['$top'] = str(page_size(limit, page_max))
    return client.list_paged(headers=headers, limit=limit, max_items=ALL_RESULTS_CAP, **request)


def user_result(user: dict, title: str) -> CommandResults:
    """Return the war-room table titled `title` and the `MSGraphUser` / `Account` context of one Graph user."""
    user = drop_odata_metadata(user)
    user.pop('passwordProfile', None)
    return CommandResults(readable_output=tableToMarkdown(title, to_readable(user), removeNull=True),
                          outputs=users_context(to_context(user)), raw_response=user)


def patch_user(client: Client, args: dict, body: dict, text: str) -> CommandResults:
    """PATCH `body` onto the user named in `args['user']`; return `text` with `{user}` filled in."""
    user = required_arg(args, 'user')
    client.http_request('PATCH', user_path(user), json_data=body)
    return CommandResults(readable_output=text.format(user=user))


def relationship_result(client: Client, args: dict, relation: str, *, prefix: str, key_field: str,
                        items_key: str, title: str, page_max: int | None = USERS_PAGE_MAX) -> CommandResults:
    """Return a paged relationship of `args['user']` (e.g. directReports) as `{key_field: user, items_key: [...]}`.

    The cursor (`NextPage`, None when complete) sits in the same object, so it is merged per user.
    """
    user = required_arg(args, 'user')
    items, next_link = fetch_collection(client, f'{user_path(user)}/{relation}', args, page_max=page_max)
    outputs = {key_field: user, items_key: [to_context(item) for item in items], 'NextPage': next_link}
    readable = tableToMarkdown(title.format(user=user), [to_readable(item) for item in items], removeNull=True,
                               metadata=next_page_metadata(next_link))
    return CommandResults(outputs_prefix=prefix, outputs_key_field=key_field, outputs=outputs,
                          readable_output=readable, raw_response=items)


def read_back_user(client: Client, path: str) -> dict | None:
    """GET a user Graph has just changed, waiting out replication delay; None when it stays not found."""
    for delay in (0.0, *READ_BACK_DELAYS):
        if delay:
            ms_sleep(delay)
        try:
            return client.http_request('GET', path, params={'$select': '*'})
        except GraphError as error:
            if not is_not_found(error):
                raise
    return None


def get_user_not_found_text(user: str, error: GraphError) -> str:
    """The note msgraph-user-get has always shown for a user that does not exist."""
    return f'### User {user} was not found.\nMicrosoft Graph Response: {error}'


# --- the bulk form of the commands whose `user` may name several users (see `accepts_user_list`) ---

REVOKED_TEXT = 'User: "{user}" sessions have been revoked successfully.'
REVOKE_STEP = BulkStep('POST', '/revokeSignInSessions')
UNBLOCK_BULK = BulkAction('Unblock users', 'unblocked', (BulkStep('PATCH', body={'accountEnabled': True}),))
REVOKE_BULK = BulkAction('Revoke user sessions', 'sessions revoked', (REVOKE_STEP,))
FORCE_RESET_BULK = BulkAction(
    'Force password reset', 'must change the password at the next sign-in',
    (BulkStep('PATCH', body={'passwordProfile': {'forceChangePasswordNextSignIn': True}}),))
DELETE_BULK = BulkAction('Delete users', 'deleted', (BulkStep('DELETE'),))


def user_select(args: dict) -> str:
    """The `$select` of msgraph-user-get: the given properties plus id, else every property."""
    return ','.join(select_list(args.get('properties'), 'id')) if csv_items(args.get('properties')) else '*'


def get_bulk_action(args: dict) -> BulkAction:
    """Read each user with the same `$select` as one user gets."""
    return BulkAction('Get users', 'found', (BulkStep('GET', params={'$select': user_select(args)}),),
                      returns_users=True)


def disable_bulk_action(args: dict) -> BulkAction:
    """Disable, and with `revoke_sessions` also revoke (after the disable of the same user, in the same batch)."""
    disable = BulkStep('PATCH', body={'accountEnabled': False})
    if bool_arg(args, 'revoke_sessions', False):
        return BulkAction('Disable user accounts and revoke their sessions', 'account disabled, sessions revoked',
                          (disable, REVOKE_STEP))
    return BulkAction('Disable user accounts', 'account disabled', (disable,))


@accepts_user_list(get_bulk_action)
@handles_not_found(user_note=get_user_not_found_text)
def get_user_command(client: Client, args: dict) -> CommandResults:
    """`msgraph-user-get`: one user with the requested properties (all of them by default); several users through
    `accepts_user_list`."""
    user = required_arg(args, 'user')
    select = user_select(args)
    try:
        data = client.http_request('GET', user_path(user), params={'$select': select})
    except GraphError as error:
        chars = unsupported_user_chars(user)
        if error.status == 400 and chars:
            shown = '{' + ', '.join(repr(char) for char in sorted(chars)) + '}'
            return CommandResults(readable_output=(f'Request failed because the user contains unsupported '
                                                   f'characters: {shown}\n{error}'))
        raise
    return user_result(data or {}, f'{user} data')


def list_users_command(client: Client, args: dict) -> CommandResults:
    """`msgraph-user-list`: one page of users (Graph's size), or up to `limit`, or all; the cursor in NextPage."""
    select = ','.join(select_list(args.get('properties') or DEFAULT_LIST_PROPERTIES, 'id'))
    user_filter = str(args.get('filter') or '').strip()
    params = {'$select': select, '$count': 'true', **({'$filter': user_filter} if user_filter else {})}
    page_max = (SIGN_IN_ACTIVITY_PAGE_MAX if 'signinactivity' in f'{select} {user_filter}'.lower()
                else USERS_PAGE_MAX)
    users, next_link = fetch_collection(client, 'users', args, default_limit=None, params=params,
                                        headers=ADVANCED_QUERY_HEADERS, page_max=page_max)
    readable = tableToMarkdown('All Graph Users', [to_readable(user) for user in users], removeNull=True,
                               metadata=next_page_metadata(next_link, 'parameter'))
    outputs = {**users_context([to_context(user) for user in users]), **next_page_context('MSGraphUser', next_link)}
    return CommandResults(readable_output=readable, outputs=outputs, raw_response=users)


def new_user_body(args: dict) -> dict[str, Any]:
    """Return the POST /users body of msgraph-user-create; raise ValueError naming a bad or colliding argument."""
    body: dict[str, Any] = {
        'accountEnabled': bool_arg(args, 'account_enabled', True),
        'displayName': required_arg(args, 'display_name'),
        'mailNickname': required_arg(args, 'mail_nickname'),
        'userPrincipalName': required_arg(args, 'user_principal_name'),
        'passwordProfile': {
            'forceChangePasswordNextSignIn': bool_arg(args, 'force_change_password_next_sign_in', True),
            'password': secret_arg(args, 'password'),
        },
    }
    immutable_id = str(args.get('on_premises_immutable_id') or '').strip()
    if immutable_id:
        body['onPremisesImmutableId'] = immutable_id
    others = properties_from_args(args, 'other_properties', 'other_properties_json', 'other_properties_delimiter')
    explicit = {key.lower(): arg_name for key, arg_name in CREATE_USER_ARGS.items()}
    for key in others:
        if key.lower() in explicit:
            raise ValueError(f'The property "{key}" of "other_properties" is set by the "{explicit[key.lower()]}" '
                             'argument; give it there.')
    return {**body, **others}


def create_user_command(client: Client, args: dict) -> CommandResults:
    """`msgraph-user-create`: POST the user and show Graph's 201 answer (no re-read, which can hit replication)."""
    body = new_user_body(args)
    created = client.http_request('POST', 'users', json_data=body) or {}
    return user_result(created, f'{body["userPrincipalName"]} was created successfully:')


@handles_not_found()
def update_user_command(client: Client, args: dict) -> CommandResults:
    """`msgraph-user-update`: PATCH the given properties, then show the user as msgraph-user-get does."""
    user = required_arg(args, 'user')
    path = user_path(user)
    fields = properties_from_args(args, 'updated_fields', 'updated_fields_json', 'updated_fields_delimiter')
    if not fields:
        raise ValueError('The "updated_fields" argument (or "updated_fields_json") must set at least one property.')
    new_upn = fields.get('userPrincipalName')
    # After a rename the old UPN no longer resolves.
    read_path = user_path(new_upn, 'updated_fields') if isinstance(new_upn, str) and new_upn else path
    client.http_request('PATCH', path, json_data=fields)
    updated = read_back_user(client, read_path)
    if updated is None:
        return CommandResults(readable_output=(
            f'User {user} was updated, but Graph does not return it yet (replication delay). Run '
            '!msgraph-user-get later to see the new values.'))
    return user_result(updated, f'{user} data')


@accepts_user_list(DELETE_BULK)
@handles_not_found()
def delete_user_command(client: Client, args: dict) -> CommandResults:
    """`msgraph-user-delete`: soft-delete the user (restorable for 30 days)."""
    user = required_arg(args, 'user')
    client.http_request('DELETE', user_path(user))
    return CommandResults(readable_output=f'user: "{user}" was deleted successfully.')


@accepts_user_list(disable_bulk_action)
@handles_not_found()
def disable_user_account_command(client: Client, args: dict) -> CommandResults:
    """`msgraph-user-account-disable` (and the deprecated `msgraph-user-terminate-session`): block sign-in, and with
    `revoke_sessions` also end the sessions already open (one request more, after the disable succeeded)."""
    revoke = bool_arg(args, 'revoke_sessions', False)
    result = patch_user(client, args, {'accountEnabled': False},
                        'user: "{user}" account has been disabled successfully.')
    if revoke:
        result.readable_output = f'{result.readable_output}\n{revoke_sessions(client, required_arg(args, "user"))}'
    return result


@accepts_user_list(UNBLOCK_BULK)
@handles_not_found()
def unblock_user_command(client: Client, args: dict) -> CommandResults:
    """`msgraph-user-unblock`: allow sign-in again."""
    return patch_user(client, args, {'accountEnabled': True},
                      '"{user}" unblocked. It might take several minutes for the changes to take effect across all '
                      'applications.')


@accepts_user_list(FORCE_RESET_BULK)
@handles_not_found()
def force_reset_password_command(client: Client, args: dict) -> CommandResults:
    """`msgraph-user-force-reset-password`: require a new password at the next sign-in."""
    return patch_user(client, args, {'passwordProfile': {'forceChangePasswordNextSignIn': True}},
                      'User {user} will be required to change his password.')


@handles_not_found()
def change_password_command(client: Client, args: dict) -> CommandResults:
    """`msgraph-user-change-password`: set a cloud user's password."""
    body = {'passwordProfile': {
        'forceChangePasswordNextSignIn': bool_arg(args, 'force_change_password_next_sign_in', True),
        'forceChangePasswordNextSignInWithMfa': bool_arg(args, 'force_change_password_with_mfa', False),
        'password': secret_arg(args, 'password'),
    }}
    return patch_user(client, args, body, 'User {user} password was changed successfully.')


def revoke_sessions(client: Client, user: str) -> str:
    """Revoke the sessions of `user`; return the war-room text saying so."""
    client.http_request('POST', f'{user_path(user)}/revokeSignInSessions')
    return REVOKED_TEXT.format(user=user)


@accepts_user_list(REVOKE_BULK)
@handles_not_found()
def revoke_user_session_command(client: Client, args: dict) -> CommandResults:
    """`msgraph-user-session-revoke`: invalidate the user's refresh tokens and session cookies."""
    return CommandResults(readable_output=revoke_sessions(client, required_arg(args, 'user')))


def delta_expired(error: GraphError) -> bool:
    """Return True when Graph says a delta link is too old to continue from (graph.md §6)."""
    return error.status == 410 or (error.status == 400 and error.code == 'syncStateNotFound')


def read_user_delta(client: Client, link: str | None, select: str,
                    max_changes: int = ALL_RESULTS_CAP) -> tuple[list[dict], str | None, bool]:
    """Return (changes, the link to continue from, whether the round reached its deltaLink).

    The round starts at `link` (a saved deltaLink or nextLink) or, without one, at a full read, and follows
    nextLinks to the deltaLink. Once `max_changes` are read it stops at the end of that page and returns the
    nextLink, which resumes the same round: a page is never cut, so no change is lost.
    """
    if link:
        body = client.http_request('GET', full_url=link, headers=DELTA_PAGE_HEADERS)
    else:
        body = client.http_request('GET', 'users/delta', params={'$select': select}, headers=DELTA_PAGE_HEADERS)
    changes: list[dict] = []
    while True:
        body = body or {}
        changes.extend(body.get('value', []))
        next_link = body.get('@odata.nextLink')
        if not next_link:
            return changes, body.get('@odata.deltaLink'), True
        if len(changes) >= max_changes:
            return changes, next_link, False
        body = client.http_request('GET', full_url=next_link, headers=DELTA_PAGE_HEADERS)


def saved_delta_link(state_key: str) -> tuple[str | None, float | None]:
    """Return (the kept link for `state_key`, when it was kept); the time is None for a link kept without one."""
    links = get_integration_context().get(USER_DELTA_CONTEXT_KEY)
    saved = links.get(state_key) if isinstance(links, dict) else None
    if isinstance(saved, str):
        return saved or None, None
    if isinstance(saved, dict) and isinstance(saved.get('link'), str):
        saved_at = saved.get('saved_at')
        return saved['link'] or None, float(saved_at) if isinstance(saved_at, int | float) else None
    return None, None


def save_delta_link(state_key: str, link: str) -> None:
    """Keep `link` and the time it was received for `state_key`, next to the links of other property sets."""
    kept = {'link': link, 'saved_at': int(time.time())}

    def remember(context: dict) -> None:
        links = context.get(USER_DELTA_CONTEXT_KEY)
        context[USER_DELTA_CONTEXT_KEY] = {**(links if isinstance(links, dict) else {}), state_key: kept}
    mutate_integration_context(remember)


def delta_link_too_old(saved_at: float | None) -> bool:
    """Whether a link kept at `saved_at` is past Graph's 7 days (unknown age: not known to be too old)."""
    return saved_at is not None and time.time() - saved_at >= DELTA_LINK_MAX_AGE


def get_delta_command(client: Client, args: dict) -> CommandResults:
    """`msgraph-user-get-delta`: the users created, changed or deleted since the previous run on this instance.

    The first run (per set of properties) reads every user. The link to continue from is kept in the integration
    context, or is taken from and returned to the playbook with `delta_link`.
    """
    select_items = select_list(args.get('properties'), 'userPrincipalName')
    select = ','.join(select_items)
    state_key = ','.join(sorted(item.lower() for item in select_items))
    given_link = graph_link_arg(args, 'delta_link', (graph_base(client),), DELTA_LINK_RESOURCE)
    full_sync = bool_arg(args, 'full_sync', False)
    max_changes = positive_int_arg(args, 'limit', ALL_RESULTS_CAP)
    notes = []
    saved_link, saved_at = (None, None) if given_link or full_sync else saved_delta_link(state_key)
    if saved_link and delta_link_too_old(saved_at):
        saved_link = None
        notes.append('The saved delta link was older than 7 days, so every user was read again.')
    link = given_link or saved_link
    try:
        changes, next_link, complete = read_user_delta(client, link, select, max_changes)
    except GraphError as error:
        if not (link and delta_expired(error)):
            raise
        changes, next_link, complete = read_user_delta(client, None, select, max_changes)
        notes.append('The saved delta link had expired, so every user was read again.')
    if next_link and not given_link:
        save_delta_link(state_key, next_link)
    if not complete:
        notes.append('More changes are waiting: run the command again to continue from here.')
    headers = [readable_key(item) for item in select_items if item != '*'] + ['ID', 'User Principal Name']
    if any('@removed' in change for change in changes):
        headers += ['Status', 'RemovedReason']
    readable = tableToMarkdown('All Graph Users', [to_readable(change) for change in changes],
                               headers=list(dict.fromkeys(headers)), removeNull=True,
                               metadata='\n'.join(notes) or None)
    outputs = {USER_CONTEXT_KEY: [to_context(change) for change in changes],
               'MSGraphUserDelta(true)': {'DeltaLink': next_link, 'Complete': complete}}
    return CommandResults(readable_output=readable, outputs=outputs, raw_response=changes)


@handles_not_found()
def get_direct_reports_command(client: Client, args: dict) -> CommandResults:
    """`msgraph-direct-reports`: the users (and contacts) whose manager is `user`."""
    return relationship_result(client, args, 'directReports', prefix='MSGraphUserDirectReports',
                               key_field='Manager', items_key='Reports', title='{user} - direct reports')


@handles_not_found()
def get_groups_command(client: Client, args: dict) -> CommandResults:
    """`msgraph-user-get-groups`: the groups, directory roles and administrative units `user` is a member of."""
    return relationship_result(client, args, 'memberOf', prefix='MSGraphUserGroups', key_field='ID',
                               items_key='Groups', title='{user} group data')


def no_manager_text(user: str) -> str:
    return f'#### User {user} has no manager.'


@handles_not_found()
def get_manager_command(client: Client, args: dict) -> CommandResults:
    """`msgraph-user-get-manager`: the user's manager, or a note when none is assigned."""
    user = required_arg(args, 'user')
    path = user_path(user)
    try:
        manager = client.http_request('GET', f'{path}/manager') or {}
    except GraphError as error:
        # Graph answers 404 both for a missing user and for a user without a manager (graph.md §11).
        if is_not_found(error) and client.user_exists(user):
            return CommandResults(readable_output=no_manager_text(user))
        raise
    manager = drop_odata_metadata(manager, keep_type=False)
    return CommandResults(outputs_prefix='MSGraphUserManager', outputs_key_field='User',
                          outputs={'User': user, 'ID': user, 'Manager': to_context(manager)},
                          readable_output=tableToMarkdown(f'{user} - manager', to_readable(manager), removeNull=True),
                          raw_response=manager)


@handles_not_found(other=('manager', 'manager'))
def assign_manager_command(client: Client, args: dict) -> CommandResults:
    """`msgraph-user-assign-manager`: make `manager` the manager of `user`."""
    user = required_arg(args, 'user')
    manager = required_arg(args, 'manager')
    body = {'@odata.id': client.graph_url(user_path(manager, 'manager'))}
    client.http_request('PUT', f'{user_path(user)}/manager/$ref', json_data=body)
    return CommandResults(readable_output=(f'A manager was assigned to user "{user}". It might take several minutes '
                                           'for the changes to take affect across all applications.'))


def on_premise_password(args: dict) -> str:
    """Return the new password from `password` or `nonsensitive_password` (texts kept from the previous release)."""
    sensitive = args.get('password') or ''
    plain = args.get('nonsensitive_password') or ''
    if not sensitive and not plain:
        raise DemistoException("Password is required. Please provide either 'password' (sensitive) or "
                               "'nonsensitive_password' argument.")
    if sensitive and plain and sensitive != plain:
        raise DemistoException("Conflicting passwords provided. The 'password' and 'nonsensitive_password' arguments "
                               "must have the same value, or use only one of them.")
    return str(sensitive or plain)


def password_method_id(client: Client, path: str) -> str:
    """Return the id of the user's password authentication method (there is exactly one)."""
    methods = (client.http_request('GET', f'{path}/authentication/passwordMethods') or {}).get('value') or [None]
    method_id = methods[0].get('id') if isinstance(methods[0], dict) else None
    if not method_id:
        raise DemistoException('Failed getting passwordMethod id')
    return str(method_id)


def password_reset_poll(user: str, polling_url: str, interval: int, timeout: int) -> ScheduledCommand:
    """Schedule the next status check; the next run gets `user` and `polling_url`, never the password."""
    return ScheduledCommand(command=PASSWORD_RESET_COMMAND, next_run_in_seconds=interval, timeout_in_seconds=timeout,
                            args={'user': user, 'polling_url': polling_url, 'interval_in_seconds': interval,
                                  'timeout_in_seconds': timeout})


def password_reset_status(client: Client, user: str, polling_url: str, interval: int,
                          timeout: int) -> CommandResults:
    """Check the reset operation: poll again while it runs; a result (an error entry unless it succeeded) when done."""
    try:
        operation = client.http_request('GET', full_url=polling_url) or {}
    except GraphError as error:
        # A 404 here is the operation, not the user: keep it away from the not-found note.
        raise DemistoException(f'Failed to get the password reset status for {user}: {error}') from error
    status = str(operation.get('status') or '')
    if status in PASSWORD_RESET_RUNNING:
        return CommandResults(readable_output=f'Password reset status for **{user}** is **{status}**. Still waiting...',
                              scheduled_command=password_reset_poll(user, polling_url, interval, timeout))
    outputs = {'user': user, 'status': status, 'polling_url': polling_url}
    if status == 'succeeded':
        return CommandResults(outputs_prefix=PASSWORD_RESET_CONTEXT, outputs_key_field='polling_url', outputs=outputs,
                              readable_output=f'Password reset **succeeded** for user **{user}**.')
    error_detail = operation.get('error')
    details = ((error_detail.get('message') if isinstance(error_detail, dict) else None)
               or operation.get('statusDetail') or 'No specific error message.')
    text = f'Password reset **failed** for user **{user}**. Details: {details}'
    return CommandResults(outputs_prefix=PASSWORD_RESET_CONTEXT, outputs_key_field='polling_url', outputs=outputs,
                          readable_output=text, raw_response=text, entry_type=EntryType.ERROR)


@handles_not_found(other=('method', 'password_method_id'))
def change_password_on_premise_command(client: Client, args: dict) -> CommandResults:
    """`msgraph-user-change-password-on-premise`: start a writeback password reset, then poll it until it ends."""
    user = required_arg(args, 'user')
    interval = positive_int_arg(args, 'interval_in_seconds', POLL_INTERVAL_SECONDS)
    timeout = positive_int_arg(args, 'timeout_in_seconds', POLL_TIMEOUT_SECONDS)
    graph_roots = (graph_base(client), graph_base(client, 'beta'))
    polling_url = graph_link_arg(args, 'polling_url', graph_roots, PASSWORD_RESET_LINK_RESOURCE)
    if polling_url:
        return password_reset_status(client, user, polling_url, interval, timeout)
    password = on_premise_password(args)
    path = user_path(user)
    given_method_id = str(args.get('password_method_id') or '').strip()
    method_segment = path_segment(given_method_id, 'password_method_id') if given_method_id else ''
    method_segment = method_segment or path_segment(password_method_id(client, path), 'password_method_id')
    try:
        response = client.http_request('POST', f'{path}/authentication/methods/{method_segment}/resetPassword',
                                       json_data={'newPassword': password}, resp_type='response', ok_codes=(202,))
    except GraphError as error:
        if is_not_found(error):
            raise
        raise DemistoException(f'Failed to initiate password reset for {user}: {error}') from error
    location = graph_link_arg({'Location': response.headers.get('Location')}, 'Location', graph_roots,
                              PASSWORD_RESET_LINK_RESOURCE)
    if not location:
        raise ValueError(f'Graph did not return the status URL (Location header) of the password reset for {user}.')
    return CommandResults(readable_output=f'Password reset initiated for **{user}**. Polling for status...',
                          scheduled_command=password_reset_poll(user, location, interval, timeout))


USER_COMMANDS: dict[str, Callable[[Client, dict], Any]] = {
    'msgraph-user-terminate-session': disable_user_account_command,
    'msgraph-user-account-disable': disable_user_account_command,
    'msgraph-user-unblock': unblock_user_command,
    'msgraph-user-update': update_user_command,
    'msgraph-user-delete': delete_user_command,
    'msgraph-user-create': create_user_command,
    'msgraph-user-get-delta': get_delta_command,
    'msgraph-user-get': get_user_command,
    'msgraph-user-list': list_users_command,
    'msgraph-user-force-reset-password': force_reset_password_command,
    'msgraph-user-session-revoke': revoke_user_session_command,
    'msgraph-direct-reports': get_direct_reports_command,
    'msgraph-user-get-manager': get_manager_command,
    'msgraph-user-assign-manager': assign_manager_command,
    'msgraph-user-get-groups': get_groups_command,
    'msgraph-user-change-password': change_password_command,
    'msgraph-user-change-password-on-premise': change_password_on_premise_command,
}

# --- end of users, relationships and passwords ---


# ---------------------------------------------------------------------------------------------------------------
# Commands: authentication methods, Temporary Access Pass, devices and MFA (commands.md §2.5–§2.7)
# ---------------------------------------------------------------------------------------------------------------

# Graph collection under users/{user}/authentication, and the well-known id of the one email method (graph.md §11).
TAP_COLLECTION = 'temporaryAccessPassMethods'
EMAIL_METHOD_ID = '3ddfcfc8-9383-446f-83cc-3ab9be4be18f'
# Graph returns the pass only in the create response; it is never shown, stored or logged.
TAP_PASS_FIELD = 'temporaryAccessPass'
TAP_LIFETIME_MIN, TAP_LIFETIME_MAX, TAP_DEFAULT_LIFETIME = 10, 43200, 60
TAP_ZIP_NAME = 'TAPPolicyInfo.zip'
TAP_ZIP_MEMBER = 'TAPPolicyPass.txt'
TAP_POLICY_PREFIX = 'MSGraphUser.TAPPolicy'
TAP_POLICY_COLUMNS = {'id': 'Policy ID', 'startDateTime': 'Start Date Time', 'lifetimeInMinutes': 'Lifetime In Minutes',
                      'isUsableOnce': 'Is Usable Once', 'isUsable': 'Is Usable',
                      'methodUsabilityReason': 'Method Usability Reason'}
OWNED_DEVICE_COLUMNS = {'id': 'Device Id', 'deviceId': 'Azure Device Registration Id',
                        'displayName': 'Device Display Name'}

# The hidden MFA commands talk to Microsoft's StrongAuthenticationService, which exists in the worldwide cloud only.
MFA_APP_ID = '981f26a1-7f43-403b-a875-f8b09b8cd720'  # the MFA first-party app, the same id in every tenant
MFA_RESOURCE = 'https://adnotifications.windowsazure.com/StrongAuthenticationService.svc/Connector'
MFA_SERVICE_URL = ('https://strongauthenticationservice.auth.microsoft.com/StrongAuthenticationService.svc/Connector/'
                   'BeginTwoWayAuthentication')
MFA_CLOUD = 'Worldwide'
MFA_SECRET_NAME = 'MFA App Secret'
MFA_SERIALIZATION_NS = 'http://schemas.microsoft.com/2003/10/Serialization/Arrays'
# Integration-context key (never incident context) holding the MFA client secret and the cached MFA token.
MFA_CONTEXT_KEY = 'mfa'
MFA_DEFAULT_WAIT, MFA_MAX_WAIT = 60, 240  # seconds; the maximum stays below XSOAR's default 5-minute command timeout
MFA_TOKEN_MARGIN = 120  # seconds before expiry at which a cached MFA token is no longer used
MFA_GATE_MESSAGE = ('"Allow secret generators commands execution" parameter is not marked, Cannot run this command.'
                    'For more information please refer to the integration configuration.')
XML_FORBIDDEN_CHARS = re.compile('[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff]')


class AuthMethodSpec(NamedTuple):
    """One authentication-method type: everything its list and delete commands differ in (commands.md §2.6)."""
    command: str              # `msgraph-user-<command>-method-list` / `-method-delete`
    collection: str           # Graph collection under users/{user}/authentication
    prefix: str               # context prefix; objects merge on `ID`
    title: str                # HR title of one method; the list title adds an `s`
    kind: str                 # as in `No <kind> authentication methods found for user <user>.`
    columns: dict[str, str]   # Graph property -> HR column
    deleted: str              # HR after a delete; `{method_id}` and `{user}` are filled in
    default_method_id: str = ''
    # Graph documents no query options for most method collections; only the authenticator list took `$top` before.
    page_max: int | None = None


AUTH_METHOD_SPECS = (
    AuthMethodSpec(
        'fido2', 'fido2Methods', 'MSGraphUser.FIDO2Method', 'FIDO2 Authentication Method', 'FIDO2',
        {'id': 'Authentication method ID', 'displayName': 'The display name of the key',
         'aaGuid': 'Authenticator Attestation GUID'},
        "The user's FIDO2 Security Key Authentication Method {method_id} has been successfully deleted."),
    AuthMethodSpec(
        'email', 'emailMethods', 'MSGraphUser.EmailAuthMethod', 'Email Authentication Method', 'email',
        {'id': 'ID', 'emailAddress': 'Email Address'},
        "The user's Email Authentication Method object {method_id} has been successfully deleted.",
        default_method_id=EMAIL_METHOD_ID),
    AuthMethodSpec(
        'authenticator', 'microsoftAuthenticatorMethods', 'MSGraphUser.UserAuthMethod',
        'Microsoft Authenticator Authentication Method', 'Microsoft Authenticator',
        {'id': 'Authentication method ID', 'displayName': 'Device Name',
         'phoneAppVersion': 'Version of the Authenticator app'},
        'Microsoft Authenticator authentication method {method_id} was successfully deleted for user {user}.',
        page_max=USERS_PAGE_MAX),
    AuthMethodSpec(
        'phone', 'phoneMethods', 'MSGraphUser.PhoneAuthMethod', 'Phone Authentication Method', 'phone',
        {'id': 'Phone ID', 'phoneNumber': 'Phone Number', 'phoneType': 'Phone Type',
         'smsSignInState': 'Sms SignIn State'},
        "The user's phone authentication method object id {method_id} has been successfully deleted."),
    AuthMethodSpec(
        'software-oath', 'softwareOathMethods', 'MSGraphUser.SoftOathAuthMethod', 'Software OATH Authentication Method',
        'software OATH', {'id': 'Authentication method ID'},
        "The user's Software OATH token authentication method object id {method_id} has been successfully deleted."),
    AuthMethodSpec(
        'windows-hello', 'windowsHelloForBusinessMethods', 'MSGraphUser.WindowsHelloAuthMethod',
        'Windows Hello for Business Authentication Method', 'Windows Hello for Business',
        {'id': 'Windows Hello Method ID', 'displayName': 'Display Name', 'keyStrength': 'Method Key Strength'},
        'The Windows Hello For Business Authentication Method object id {method_id} has been successfully deleted.'),
    AuthMethodSpec(
        'temp-access-pass', TAP_COLLECTION, 'MSGraphUser.TempAccessPassAuthMethod', 'Temporary Access Pass Method',
        'Temporary Access Pass', {'id': 'Temporary Access Pass ID', 'isUsable': 'Authentication method state'},
        "The user's Temporary Access Pass Authentication Method object id {method_id} has been successfully deleted."),
)


# --- pure helpers of this group ---

def auth_path(user: str, collection: str, item_id: str = '', *, user_arg: str = 'user',
              item_arg: str = 'method_id') -> str:
    """Return `users/{user}/authentication/{collection}[/{item_id}]` with every value encoded as one segment.

    Raises ValueError naming the argument whose value cannot be a path segment.
    """
    path = f'{user_path(user, user_arg)}/authentication/{collection}'
    return f'{path}/{path_segment(item_id, item_arg)}' if item_id else path


def without_tap_pass(obj: dict) -> dict:
    """Return a Graph object without OData context and without the Temporary Access Pass, whatever its value.

    A non-empty pass is registered with the log masker before it is dropped.
    """
    shown = drop_odata_metadata(obj)
    secret = shown.pop(TAP_PASS_FIELD, None)
    if isinstance(secret, str) and secret:
        add_sensitive_log_strs(secret)
    return shown


def renamed_rows(objects: list[dict], columns: dict[str, str]) -> list[dict]:
    """Return HR rows holding only `columns` (Graph property -> column name), in that order."""
    return [{column: obj.get(prop) for prop, column in columns.items()} for obj in objects]


def dt_key(prefix: str, key: str = 'ID') -> str:
    """Return CommonServerPython's merge key: objects under `prefix` with an equal `key` are merged."""
    return f'{prefix}(val.{key} && val.{key} == obj.{key})'


def list_outputs(prefix: str, items: list[dict], next_link: str | None) -> dict:
    """Return entry-context outputs of a list: the items merged on `ID`, and the cursor in its own element (D8)."""
    return {dt_key(prefix): items, **next_page_context(prefix, next_link)}


def tap_lifetime(args: dict) -> int:
    """Return `lifetime_in_minutes`; raise ValueError naming it unless it is a whole number in Graph's range."""
    raw = str(args.get('lifetime_in_minutes') or TAP_DEFAULT_LIFETIME).strip()
    if not re.fullmatch(r'[0-9]+', raw) or not TAP_LIFETIME_MIN <= int(raw) <= TAP_LIFETIME_MAX:
        raise ValueError(f'The "lifetime_in_minutes" argument must be a whole number between {TAP_LIFETIME_MIN} and '
                         f'{TAP_LIFETIME_MAX}.')
    return int(raw)


def tap_start_time(value: Any) -> str | None:
    """Return Graph's `startDateTime` for `start_time`, or None when the pass should start at once.

    "now" (or nothing) sends no start time: a "now" computed here would be in the past when Graph receives it.
    Raises ValueError naming the argument for a date that cannot be parsed or is not in the future.
    """
    text = str(value or '').strip()
    if not text or text.lower() == 'now':
        return None
    start = arg_to_datetime(text, arg_name='start_time')
    if start is None:
        return None
    if start.tzinfo is None:  # dateparser returns naive UTC for relative times
        start = start.replace(tzinfo=UTC)
    if start.timestamp() <= time.time():
        raise ValueError('The "start_time" argument must be in the future (or "now" to start at once).')
    return start.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%S.000Z')


def tap_request_body(args: dict) -> dict:
    """Return the POST body of a new Temporary Access Pass; raise ValueError naming a bad argument."""
    body: dict[str, Any] = {'lifetimeInMinutes': tap_lifetime(args),
                            'isUsableOnce': bool_arg(args, 'is_usable_once', False)}
    start = tap_start_time(args.get('start_time'))
    if start:
        body['startDateTime'] = start
    return body


def encrypted_zip(member: str, text: str, password: str) -> bytes:
    """Return a WinZip-AES (deflate) archive holding `member` with `text`, built in memory (nothing on disk).

    Raises DemistoException `Could not generate zip file. Error:` for a failure of the zip library.
    """
    import pyzipper  # only TAP creation needs it; a warm command must not import it

    buffer = io.BytesIO()
    try:
        with pyzipper.AESZipFile(buffer, 'w', compression=pyzipper.ZIP_DEFLATED,
                                 encryption=pyzipper.WZ_AES) as archive:
            archive.setpassword(password.encode('utf-8'))
            archive.writestr(member, text)
    except Exception as error:
        raise DemistoException(f'Could not generate zip file. Error:\n{error}') from None
    return buffer.getvalue()


# --- authentication methods: one list and one delete implementation for every method type ---

def list_auth_methods(client: Client, args: dict, spec: AuthMethodSpec) -> CommandResults:
    """List a user's methods of one type, or get one of them by `method_id`."""
    user = required_arg(args, 'user')
    method_id = str(args.get('method_id') or '').strip()
    if method_id:
        method = without_tap_pass(client.http_request('GET', auth_path(user, spec.collection, method_id)) or {})
        title = f'{spec.title} {method_id} for User {user}:'
        return CommandResults(
            outputs_prefix=spec.prefix, outputs_key_field='ID', outputs=to_context(method), raw_response=method,
            readable_output=tableToMarkdown(title, renamed_rows([method], spec.columns),
                                            headers=list(spec.columns.values()), removeNull=True))
    found, next_link = fetch_collection(client, auth_path(user, spec.collection), args, page_max=spec.page_max)
    if not found and not next_link:
        return CommandResults(readable_output=f'No {spec.kind} authentication methods found for user {user}.')
    methods = [without_tap_pass(method) for method in found]
    return CommandResults(
        outputs=list_outputs(spec.prefix, [to_context(method) for method in methods], next_link),
        raw_response=methods,
        readable_output=tableToMarkdown(f'{spec.title}s for User {user}:', renamed_rows(methods, spec.columns),
                                        headers=list(spec.columns.values()), removeNull=True,
                                        metadata=next_page_metadata(next_link)))


def delete_auth_method(client: Client, args: dict, spec: AuthMethodSpec) -> CommandResults:
    """Delete one of a user's methods (Graph answers 204)."""
    user = required_arg(args, 'user')
    method_id = required_arg(args, 'method_id')
    client.http_request('DELETE', auth_path(user, spec.collection, method_id))
    return CommandResults(readable_output=spec.deleted.format(method_id=method_id, user=user))


def auth_method_commands(spec: AuthMethodSpec) -> dict[str, Callable[[Client, dict], Any]]:
    """Return the `-method-list` and `-method-delete` commands of one method type, 404-wrapped."""
    @handles_not_found(user_arg='user', other=('method', 'method_id'))
    def list_command(client: Client, args: dict) -> CommandResults:
        return list_auth_methods(client, args, spec)

    @handles_not_found(user_arg='user', other=('method', 'method_id'))
    def delete_command(client: Client, args: dict) -> CommandResults:
        return delete_auth_method(client, args, spec)

    def delete_with_default(client: Client, args: dict) -> CommandResults:
        # The default is filled in before the 404 wrapper, so a missing method is reported as such.
        if spec.default_method_id and not str(args.get('method_id') or '').strip():
            args = {**args, 'method_id': spec.default_method_id}
        return delete_command(client, args)

    return {f'msgraph-user-{spec.command}-method-list': list_command,
            f'msgraph-user-{spec.command}-method-delete': delete_with_default}


@handles_not_found(user_arg='user')
def get_auth_methods_command(client: Client, args: dict) -> CommandResults:
    """`msgraph-user-get-auth-methods`: every authentication method registered to a user, of any type."""
    return relationship_result(client, args, 'authentication/methods', prefix='MSGraphUserAuthMethods',
                               key_field='ID', items_key='Methods', title='{user} - auth methods', page_max=None)


@handles_not_found(user_arg='user')
def owned_devices_list_command(client: Client, args: dict) -> CommandResults:
    """`msgraph-user-owned-devices-list`: the devices a user owns.

    The advanced-query pair (`ConsistencyLevel: eventual` + `$count=true`) is sent only with a filter, and on every
    page of a filtered listing (a `next_page` that carries a `$filter`).
    """
    user = required_arg(args, 'user')
    path = f'{user_path(user)}/ownedDevices'
    query = str(args.get('filter') or '').strip()
    next_page = graph_link_arg(args, 'next_page', (graph_base(client),))
    advanced = bool(query) or (next_page is not None and '$filter=' in urllib.parse.unquote(next_page))
    found, next_link = fetch_collection(client, path, args,
                                        params={'$filter': query, '$count': 'true'} if query else None,
                                        headers=dict(ADVANCED_QUERY_HEADERS) if advanced else None)
    if not found and not next_link:
        return CommandResults(readable_output=f'No owned devices found for user {user}.')
    devices = [drop_odata_metadata(device) for device in found]
    owner = {'ID': user, 'Id': user, 'OwnedDevice': [to_context(device) for device in devices]}
    return CommandResults(
        outputs={USER_CONTEXT_KEY: owner, **next_page_context('MSGraphUser.OwnedDevice', next_link)},
        raw_response=devices,
        readable_output=tableToMarkdown(f'Owned Devices for User {user}:', renamed_rows(devices, OWNED_DEVICE_COLUMNS),
                                        headers=list(OWNED_DEVICE_COLUMNS.values()), removeNull=True,
                                        metadata=next_page_metadata(next_link)))


@handles_not_found(user_arg='user')
def get_user_default_auth_method_command(client: Client, args: dict) -> CommandResults:
    """`msgraph-user-get-user-default-auth-method`: a user's sign-in preferences (beta; v1.0 has no equivalent)."""
    user = required_arg(args, 'user')
    response = client.http_request('GET', f'{user_path(user)}/authentication/signInPreferences', api_version='beta')
    preferences = drop_odata_metadata(response or {}, keep_type=False)
    default = (preferences.get('userPreferredMethodForSecondaryAuthentication')
               or preferences.get('systemPreferredAuthenticationMethod') or 'Unknown')
    output = {**to_context(preferences), 'User': user, 'DefaultMethod': default}
    return CommandResults(
        outputs={'MSGraphUser.AuthMethod(val.User === obj.User)': output}, raw_response=preferences,
        readable_output=(tableToMarkdown(f'Authentication Preferences for {user}', to_readable(preferences))
                         + f'\n**Default Auth Method:** {default}'))


# --- Temporary Access Pass ---

def tap_policy_result(policy: dict, readable_output: str) -> CommandResults:
    return CommandResults(outputs_prefix=TAP_POLICY_PREFIX, outputs_key_field='ID', outputs=to_context(policy),
                          raw_response=policy, readable_output=readable_output)


@handles_not_found(user_arg='user_id')
def tap_policy_list_command(client: Client, args: dict) -> CommandResults:
    """`msgraph-user-tap-policy-list`: the user's Temporary Access Pass (a user holds at most one)."""
    user_id = required_arg(args, 'user_id')
    response = client.http_request('GET', auth_path(user_id, TAP_COLLECTION, user_arg='user_id'))
    policies = (response or {}).get('value') or []
    if not policies:
        return CommandResults(readable_output=f'Failed to get TAP policy for the user {user_id}.')
    policy = without_tap_pass(policies[0])
    return tap_policy_result(policy, tableToMarkdown(
        f'TAP Policy for User ID {user_id}:', renamed_rows([policy], TAP_POLICY_COLUMNS),
        headers=list(TAP_POLICY_COLUMNS.values())))


@handles_not_found(user_arg='user_id')
def tap_policy_create_command(client: Client, args: dict) -> CommandResults | list:
    """`msgraph-user-tap-policy-create`: a new Temporary Access Pass, returned only inside a password-protected zip.

    Returns the policy result and the `TAPPolicyInfo.zip` file entry together.
    """
    user_id = required_arg(args, 'user_id')
    zip_password = secret_arg(args, 'zip_password')
    body = tap_request_body(args)
    created = client.http_request('POST', auth_path(user_id, TAP_COLLECTION, user_arg='user_id'), json_data=body)
    if not created:
        return CommandResults(readable_output=f'Failed to create TAP policy for user: {user_id}.')
    secret = created.get(TAP_PASS_FIELD)
    policy = without_tap_pass(created)  # registers the pass with the log masker first
    text = f'Temporary Access Pass Authentication methods policy for user: {user_id} was successfully created.'
    if not isinstance(secret, str) or not secret:
        return tap_policy_result(policy, f'{text}\nMicrosoft Graph returned no pass, so no zip file was created.')
    zip_file = encrypted_zip(TAP_ZIP_MEMBER, secret, zip_password)
    return [tap_policy_result(policy, text), fileResult(TAP_ZIP_NAME, zip_file)]


@handles_not_found(user_arg='user_id', other=('method', 'policy_id'))
def tap_policy_delete_command(client: Client, args: dict) -> CommandResults:
    """`msgraph-user-tap-policy-delete`: delete the user's Temporary Access Pass."""
    user_id = required_arg(args, 'user_id')
    policy_id = required_arg(args, 'policy_id')
    client.http_request('DELETE', auth_path(user_id, TAP_COLLECTION, policy_id, user_arg='user_id',
                                            item_arg='policy_id'))
    return CommandResults(
        readable_output=f'Temporary Access Pass Authentication methods policy {policy_id} was successfully deleted.')


# --- hidden MFA commands (commands.md §2.7, D5, D6, D22) ---

def require_secret_generators(client: Client) -> None:
    """Raise unless the instance allows commands that mint secrets or tokens."""
    if not client.allow_secret_generators:
        raise DemistoException(MFA_GATE_MESSAGE)


def require_mfa_cloud(client: Client, *, mfa_service: bool = False) -> None:
    """Raise unless the MFA commands can work on the instance's cloud.

    The MFA app and service exist in the worldwide cloud only, so the national clouds are refused. A Custom cloud
    names its own login and Graph hosts (e.g. a private endpoint), which the secret and token commands use as
    configured. The MFA service itself (`mfa_service`) has one worldwide address that accepts only tokens of the
    worldwide login host, so a Custom cloud must sign in there.
    """
    cloud = client.settings.cloud
    if cloud.name == MFA_CLOUD:
        return
    worldwide_login = AZURE_CLOUDS[MFA_CLOUD].login_host
    if cloud.name == 'Custom':
        if not mfa_service or cloud.login_host.lower() == worldwide_login:
            return
        raise DemistoException(f'The MFA service is available only on the {MFA_CLOUD} cloud: it accepts only tokens '
                               f'of {worldwide_login}, and this Custom cloud signs in at {cloud.login_host}.')
    raise DemistoException(f'The MFA commands are available only on the {MFA_CLOUD} cloud: Microsoft\'s MFA '
                           f'service has no endpoint in "{cloud.name}".')


def stored_mfa_state() -> dict:
    """Return what the MFA commands keep in the integration context (never logged, never in incident context)."""
    state = get_integration_context().get(MFA_CONTEXT_KEY)
    return state if isinstance(state, dict) else {}


def store_mfa_state(values: dict, replace: bool = False) -> None:
    """Merge `values` into the MFA state of the integration context (or replace the state), safely under
    concurrent runs."""
    def mutate(context: dict) -> None:
        current = {} if replace else dict(context.get(MFA_CONTEXT_KEY) or {})
        context[MFA_CONTEXT_KEY] = {**current, **values}
    mutate_integration_context(mutate)


def mfa_token_url(client: Client) -> str:
    """Return the v1 token endpoint of the instance's tenant; raise in oproxy and managed-identity mode, where no
    tenant id is configured."""
    if client.settings.mode == 'oproxy':
        raise DemistoException('MFA access tokens cannot be created with the Cortex XSOAR application (oproxy): it '
                               'has no tenant ID. Use a self-deployed application.')
    if client.settings.mode == 'managed_identity':
        raise DemistoException('MFA access tokens cannot be created with an Azure managed identity: the instance has '
                               'no tenant ID and client secret for the MFA app. Use a self-deployed application.')
    tenant = path_segment(str(client.settings.tenant_id or ''), 'tenant_id')
    return f'{client.settings.cloud.login_host}/{tenant}/oauth2/token'


def request_mfa_token(client: Client, client_secret: str) -> dict:
    """Return `{access_token, valid_until}` for the MFA service principal and keep it in the integration context.

    Raises DemistoException `Error obtaining access token: ...` when Entra refuses.
    """
    add_sensitive_log_strs(client_secret)
    form = {'resource': MFA_RESOURCE, 'client_id': MFA_APP_ID, 'client_secret': client_secret,
            'grant_type': 'client_credentials', 'scope': 'openid'}
    try:
        response = client._http_request('POST', full_url=mfa_token_url(client), data=form,
                                        headers={'Accept': 'application/json'}, timeout=client.settings.timeout)
    except DemistoException as error:
        raise DemistoException(f'Error obtaining access token: {token_error_text(error)}') from None
    token = (response or {}).get('access_token')
    if not isinstance(token, str) or not token:
        raise DemistoException('Error obtaining access token: the response carries no access_token.')
    add_sensitive_log_strs(token)
    valid_until = arg_to_number(response.get('expires_on')) or int(time.time()) + (
        arg_to_number(response.get('expires_in')) or 3599)
    store_mfa_state({'access_token': token, 'token_valid_until': valid_until})
    return {'access_token': token, 'valid_until': valid_until}


def token_error_text(error: DemistoException) -> str:
    """Return Entra's error code and description from a failed token request (never the request form)."""
    response = getattr(error, 'res', None)
    try:
        body = response.json() if response is not None else {}
    except ValueError:
        body = {}
    if isinstance(body, dict) and body.get('error'):
        return f"{body['error']}\nResponse: {body.get('error_description') or ''}".rstrip()
    return str(error)


def mfa_access_token(client: Client) -> str:
    """Return a valid MFA token: the cached one, else a new one from the stored MFA client secret."""
    state = stored_mfa_state()
    token = state.get('access_token')
    if isinstance(token, str) and token and float(state.get('token_valid_until') or 0) > time.time() + MFA_TOKEN_MARGIN:
        add_sensitive_log_strs(token)
        return token
    require_secret_generators(client)
    secret = state.get('client_secret')
    if not isinstance(secret, str) or not secret:
        raise DemistoException('No MFA access token is available: run msgraph-user-create-mfa-client-secret once '
                               '(the new secret becomes usable after 30-60 seconds), or pass the access_token '
                               'argument.')
    return request_mfa_token(client, secret)['access_token']


def mfa_wait_seconds(args: dict) -> int:
    """Return the `timeout` argument: how long the MFA service may wait for the user's answer."""
    wait = positive_int_arg(args, 'timeout', MFA_DEFAULT_WAIT)
    if wait > MFA_MAX_WAIT:
        raise ValueError(f'The "timeout" argument must be a whole number of seconds between 1 and {MFA_MAX_WAIT}.')
    return wait


def mfa_request_xml(user_principal_name: str, context_id: str) -> bytes:
    """Return the BeginTwoWayAuthentication request; every value is an escaped XML text node."""
    def add(parent: ElementTree.Element, tag: str, text: str | None = None) -> ElementTree.Element:
        element = ElementTree.SubElement(parent, tag)
        element.text = text
        return element

    ElementTree.register_namespace('a', MFA_SERIALIZATION_NS)
    root = ElementTree.Element('BeginTwoWayAuthenticationRequest')
    add(root, 'Version', '1.0')
    add(root, 'UserPrincipalName', user_principal_name)
    add(root, 'Lcid', 'en-us')
    pair = add(add(root, 'AuthenticationMethodProperties'), f'{{{MFA_SERIALIZATION_NS}}}KeyValueOfstringstring')
    add(pair, f'{{{MFA_SERIALIZATION_NS}}}Key', 'OverrideVoiceOtp')
    add(pair, f'{{{MFA_SERIALIZATION_NS}}}Value', 'false')
    for tag, text in (('ContextId', context_id), ('SyncCall', 'true'), ('RequireUserMatch', 'true'),
                      ('CallerName', 'radius'), ('CallerIP', 'UNKNOWN:')):
        add(root, tag, text)
    return ElementTree.tostring(root, encoding='utf-8')


def mfa_outcome(xml_text: str) -> str:
    """Return the HR of an approved MFA request; raise DemistoException with the status of any other answer."""
    root = ElementTree.fromstring(xml_text)

    def first(parent: ElementTree.Element | None, name: str) -> ElementTree.Element | None:
        # The service answers with namespaced elements; match on the local name.
        if parent is None:
            return None
        return next((el for el in parent.iter() if el.tag.rsplit('}', 1)[-1] == name), None)

    def text_of(parent: ElementTree.Element | None, name: str) -> str:
        found = first(parent, name)
        return (found.text or '').strip() if found is not None else ''

    result = first(root, 'Result')
    value, message = text_of(result, 'Value'), text_of(result, 'Message')
    if value == 'Success' and text_of(root, 'AuthenticationResult').lower() == 'true':
        return 'Status: User Approved MFA Request'
    if value == 'PhoneAppDenied':
        raise DemistoException('Status: User Denied Request')
    if value == 'PhoneAppNoResponse':
        raise DemistoException('Status: MFA Request Timed Out')
    raise DemistoException(f'Status: MFA Request Failed - {message or value}')


def create_mfa_client_secret_command(client: Client, args: dict) -> CommandResults:
    """`msgraph-user-create-mfa-client-secret`: a new client secret on the MFA service principal.

    The secret is kept in the integration context for the other MFA commands; only its validity is shown.
    """
    require_secret_generators(client)
    require_mfa_cloud(client)
    found = client.http_request('GET', 'servicePrincipals',
                                params={'$filter': f'appId eq {odata_quote(MFA_APP_ID)}', '$select': 'id'})
    principals = (found or {}).get('value') or []
    principal_id = principals[0].get('id') if principals else None
    if not principal_id:
        raise DemistoException(f'Error: Service Principal with appId {MFA_APP_ID} not found.')
    credential = client.http_request(
        'POST', f"servicePrincipals/{path_segment(str(principal_id), 'service principal id')}/addPassword",
        json_data={'passwordCredential': {'displayName': MFA_SECRET_NAME}}) or {}
    secret = credential.get('secretText')
    if not isinstance(secret, str) or not secret:
        raise DemistoException('Microsoft Graph returned no secret for the MFA service principal.')
    add_sensitive_log_strs(secret)
    validity = {'ValidFrom': credential.get('startDateTime'), 'ValidUntil': credential.get('endDateTime')}
    # A new secret starts a new state: a token of the previous secret is not reused.
    store_mfa_state({'client_secret': secret, 'key_id': credential.get('keyId'), 'valid_until': validity['ValidUntil']},
                    replace=True)
    return CommandResults(
        outputs_prefix='MSGraphUser.MFAClientSecret', outputs=validity, raw_response=validity,
        readable_output=('A new client secret has been added. Note you might need to wait 30-60 seconds before the '
                         'secret will be activated.'))


def create_mfa_client_access_token_command(client: Client, args: dict) -> CommandResults:
    """`msgraph-user-create-mfa-client-access-token`: a new MFA token, kept in the integration context."""
    require_secret_generators(client)
    require_mfa_cloud(client)
    mfa_token_url(client)  # refuses oproxy mode before anything else is read
    secret = args.get('client_secret') or stored_mfa_state().get('client_secret')
    if not isinstance(secret, str) or not secret:
        raise ValueError('The "client_secret" argument is required when no MFA client secret was created with '
                         'msgraph-user-create-mfa-client-secret.')
    token = request_mfa_token(client, secret)
    return CommandResults(outputs_prefix='MSGraphUser.MFAAccessToken', outputs={'ValidUntil': token['valid_until']},
                          raw_response={'ValidUntil': token['valid_until']},
                          readable_output='A new access token has been created.')


def request_mfa_command(client: Client, args: dict) -> CommandResults:
    """`msgraph-user-request-mfa`: push an MFA request to a user and wait (synchronously) for the answer."""
    user_mail = required_arg(args, 'user_mail')
    if XML_FORBIDDEN_CHARS.search(user_mail):
        raise ValueError('The "user_mail" argument contains a control character.')
    wait = mfa_wait_seconds(args)
    require_mfa_cloud(client, mfa_service=True)
    token = args.get('access_token') or mfa_access_token(client)
    try:
        answer = client._http_request(
            'POST', full_url=MFA_SERVICE_URL, data=mfa_request_xml(user_mail, str(uuid.uuid4())),
            headers={'Authorization': f'Bearer {token}', 'Content-Type': 'application/xml'},
            resp_type='text', timeout=(client.settings.timeout, wait))
        return CommandResults(readable_output=mfa_outcome(answer))
    except Exception as error:
        raise DemistoException(f'Failed to pop MFA request for user {user_mail}: {error}') from None


AUTH_METHOD_COMMANDS: dict[str, Callable[[Client, dict], Any]] = {
    'msgraph-user-tap-policy-list': tap_policy_list_command,
    'msgraph-user-tap-policy-create': tap_policy_create_command,
    'msgraph-user-tap-policy-delete': tap_policy_delete_command,
    'msgraph-user-get-auth-methods': get_auth_methods_command,
    'msgraph-user-owned-devices-list': owned_devices_list_command,
    **{name: command for spec in AUTH_METHOD_SPECS for name, command in auth_method_commands(spec).items()},
    'msgraph-user-request-mfa': request_mfa_command,
    'msgraph-user-get-user-default-auth-method': get_user_default_auth_method_command,
    'msgraph-user-create-mfa-client-secret': create_mfa_client_secret_command,
    'msgraph-user-create-mfa-client-access-token': create_mfa_client_access_token_command,
}

# --- end of authentication methods ---


# ---------------------------------------------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------------------------------------------

COMMANDS: dict[str, Callable[[Client, dict], Any]] = {
    'msgraph-user-test': test_command,
    'msgraph-user-generate-login-url': generate_login_url_command,
    'msgraph-user-auth-reset': auth_reset_command,
    **USER_COMMANDS,
    **AUTH_METHOD_COMMANDS,
}

# Arguments whose values must never reach a log line or an error entry (the logger masks registered strings).
SECRET_ARGS = ('password', 'nonsensitive_password', 'zip_password', 'client_secret', 'access_token')


def register_secret_args(args: dict) -> None:
    for name in SECRET_ARGS:
        value = args.get(name)
        if isinstance(value, str) and value:
            add_sensitive_log_strs(value)


def check_text_args(args: dict) -> None:
    """Raise ValueError naming the first argument whose text cannot be sent: a lone surrogate (possible in JSON from
    the server) has no UTF-8 form, so encoding it for a URL or a body would fail deep inside a request."""
    for name, value in args.items():
        if isinstance(value, str) and LONE_SURROGATE.search(value):
            raise ValueError(f'The "{name}" argument is not valid unicode text (it contains a lone surrogate).')


LONE_SURROGATE = re.compile('[\ud800-\udfff]')


def build_client(params: dict, command: str) -> Client:
    """Return the Client for the instance params; raise MicrosoftConfigError on a configuration mistake."""
    return Client(
        AuthSettings.from_params(params),
        command=command,
        handle_error=argToBoolean(params.get('handle_error', True)),
        allow_secret_generators=argToBoolean(params.get('allow_secret_generators', False)),
    )


def main() -> None:  # pragma: no cover - exercised through run_command in the tests
    run_command(demisto.command(), demisto.params(), demisto.args())


def run_command(command: str, params: dict, args: dict) -> None:
    """Run one command and emit its entries; any failure becomes one error entry naming the command."""
    register_secret_args(args)
    demisto.debug(f'Command being called is {command}')
    try:
        check_text_args(args)
        client = build_client(params, command)
        if command == 'test-module':
            return_results(test_module(client))
        elif command in COMMANDS:
            return_results(COMMANDS[command](client, args))
        else:
            raise NotImplementedError(f'Command {command} is not implemented')
    except Exception as error:  # every failure ends as one readable error entry, never a traceback
        return_error(f'Failed to execute {command} command.\nError:\n{error}')


if __name__ in ('__main__', '__builtin__', 'builtins'):
    main()
