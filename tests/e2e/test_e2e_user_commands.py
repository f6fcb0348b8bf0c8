"""The user, relationship and password commands end to end (client credentials, the `default` app), each run in its
own runner process against the emulated tenant: what Graph received, what the war room and context show, and what
changed in the tenant."""
from __future__ import annotations

import json
import urllib.parse

from tests.e2e.harness import E2E, graph_calls

USERS = 'MSGraphUser(val.ID && val.ID == obj.ID)'
ACCOUNTS = 'Account(val.ID && val.ID == obj.ID)'
CURSOR = 'MSGraphUser(val.NextPage !== undefined)'


def as_list(value: object) -> list:
    return value if isinstance(value, list) else [value]


def test_get_and_list_users(e2e: E2E) -> None:
    params = e2e.params()
    samples = e2e.samples
    dollar, apostrophe = samples['dollar'], samples['apostrophe']

    # A UPN starting with '$' needs the users('...') key form.
    got = e2e.ok('msgraph-user-get', params, user=dollar['userPrincipalName'])
    assert [r['path'] for r in got.graph] == [f"/v1.0/users('{dollar['userPrincipalName']}')"]
    assert got.context[USERS]['ID'] == dollar['id']
    assert got.context[ACCOUNTS]['Username'] == dollar['userPrincipalName']
    assert f"{dollar['userPrincipalName']} data" in got.readable

    picked = e2e.ok('msgraph-user-get', params, user=apostrophe['userPrincipalName'], properties='displayName,jobTitle')
    assert picked.graph[0]['query'] == '$select=displayName%2CjobTitle%2Cid'
    assert picked.context[USERS]['DisplayName'] == apostrophe['displayName']
    assert set(picked.context[USERS]) == {'DisplayName', 'JobTitle', 'ID'}

    # No limit: one page of Graph's size (100 of the 200 users) and the cursor to continue from.
    first = e2e.ok('msgraph-user-list', params)
    first_ids = {user['ID'] for user in first.context[USERS]}
    assert len(first_ids) == 100
    next_page = first.context[CURSOR]['NextPage']
    assert next_page.startswith(f'{e2e.emulator.base_url}/v1.0/users?') and 'skiptoken' in next_page
    assert first.graph[0]['headers'].get('Consistencylevel') == 'eventual'

    rest = e2e.ok('msgraph-user-list', params, next_page=next_page)
    assert rest.graph[0]['path'] == '/v1.0/users' and 'skiptoken' in rest.graph[0]['query']
    assert rest.graph[0]['headers'].get('Consistencylevel') == 'eventual'
    rest_ids = {user['ID'] for user in rest.context[USERS]}
    assert len(rest_ids) == 100 and not rest_ids & first_ids
    assert rest.context[CURSOR]['NextPage'] is None

    # limit: one request with the page size that covers it; the cursor continues after it.
    limited = e2e.ok('msgraph-user-list', params, limit=150)
    assert len(limited.graph) == 1 and '$top=150' in limited.graph[0]['query']
    assert len(limited.context[USERS]) == 150 and limited.context[CURSOR]['NextPage']

    everyone = e2e.ok('msgraph-user-list', params, all_results='true', properties='id,userPrincipalName')
    assert len(everyone.context[USERS]) == 200 and everyone.context[CURSOR]['NextPage'] is None
    assert [r['status'] for r in everyone.graph] == [200]
    assert {account['Username'] for account in everyone.context[ACCOUNTS]} >= {
        sample['userPrincipalName'] for sample in samples.values()}

    # filter goes to Graph as given (the quote doubled as OData requires).
    quoted = apostrophe['userPrincipalName'].replace("'", "''")
    filtered = e2e.ok('msgraph-user-list', params, filter=f"startsWith(userPrincipalName,'{quoted}')",
                      properties='userPrincipalName,accountEnabled')
    assert [user['ID'] for user in as_list(filtered.context[USERS])] == [apostrophe['id']]
    disabled = e2e.ok('msgraph-user-list', params, filter='accountEnabled eq false', properties='accountEnabled')
    assert samples['disabled']['id'] in {user['ID'] for user in as_list(disabled.context[USERS])}
    assert all(user['AccountEnabled'] is False for user in as_list(disabled.context[USERS]))


def test_user_life_cycle(e2e: E2E) -> None:
    params = e2e.params()
    upn = f"e2e.tester@{e2e.registrations['domain']}"
    password = 'Str0ng!Passw0rd-e2e-1'

    created = e2e.ok('msgraph-user-create', params, display_name='E2E Tester', mail_nickname='e2e.tester',
                     user_principal_name=upn, password=password, account_enabled='false',
                     force_change_password_next_sign_in='false', other_properties='jobTitle=Analyst,usageLocation=US',
                     other_properties_json=json.dumps({'employeeId': 'E-1001'}), debug=True)
    [post] = created.graph
    assert (post['method'], post['path'], post['status']) == ('POST', '/v1.0/users', 201)
    assert post['body']['accountEnabled'] is False
    assert post['body']['passwordProfile'] == {'forceChangePasswordNextSignIn': False, 'password': '<redacted>'}
    assert post['body']['jobTitle'] == 'Analyst' and post['body']['employeeId'] == 'E-1001'
    assert f'{upn} was created successfully' in created.readable
    user_id = created.context[USERS]['ID']
    assert password not in created.stdout + created.stderr
    stored = e2e.stored_user(upn)
    assert stored['accountEnabled'] is False and stored['usageLocation'] == 'US' and stored['_password'] == password

    # k=v values keep their JSON types (accountEnabled=true is a boolean); the user is then re-read.
    updated = e2e.ok('msgraph-user-update', params, user=upn,
                     updated_fields='jobTitle=Lead Analyst;accountEnabled=true', updated_fields_delimiter=';',
                     updated_fields_json=json.dumps({'officeLocation': '7/1101'}))
    patch, read = updated.graph
    assert (patch['method'], patch['status']) == ('PATCH', 204)
    assert patch['body'] == {'jobTitle': 'Lead Analyst', 'accountEnabled': True, 'officeLocation': '7/1101'}
    assert (read['method'], read['query']) == ('GET', '$select=%2A')
    assert updated.context[USERS]['JobTitle'] == 'Lead Analyst'
    assert updated.context[USERS]['AccountEnabled'] is True
    assert updated.context[ACCOUNTS]['Office'] == '7/1101'

    disabled = e2e.ok('msgraph-user-account-disable', params, user=user_id)
    assert disabled.readable == f'user: "{user_id}" account has been disabled successfully.'
    assert [r['body'] for r in disabled.graph] == [{'accountEnabled': False}]
    assert e2e.stored_user(upn)['accountEnabled'] is False

    unblocked = e2e.ok('msgraph-user-unblock', params, user=upn)
    assert unblocked.readable.startswith(f'"{upn}" unblocked.')
    assert e2e.stored_user(upn)['accountEnabled'] is True

    terminated = e2e.ok('msgraph-user-terminate-session', params, user=upn)  # deprecated alias of account-disable
    assert 'account has been disabled successfully' in terminated.readable
    assert e2e.stored_user(upn)['accountEnabled'] is False

    forced = e2e.ok('msgraph-user-force-reset-password', params, user=upn)
    assert forced.readable == f'User {upn} will be required to change his password.'
    assert [r['body'] for r in forced.graph] == [{'passwordProfile': {'forceChangePasswordNextSignIn': True}}]

    new_password = 'An0ther!Passw0rd-e2e-2'
    changed = e2e.ok('msgraph-user-change-password', params, user=upn, password=new_password,
                     force_change_password_next_sign_in='False', debug=True)
    assert changed.readable == f'User {upn} password was changed successfully.'
    assert changed.graph[0]['body'] == {'passwordProfile': {
        'forceChangePasswordNextSignIn': False, 'forceChangePasswordNextSignInWithMfa': False,
        'password': '<redacted>'}}
    assert e2e.stored_user(upn)['_password'] == new_password
    assert 'PATCH /v1.0/users/' in changed.stderr  # the debug wire log was on
    assert new_password not in changed.stdout + changed.stderr

    revoked = e2e.ok('msgraph-user-session-revoke', params, user=upn)
    assert revoked.readable == f'User: "{upn}" sessions have been revoked successfully.'
    assert [(r['method'], r['path'], r['status']) for r in revoked.graph] == [
        ('POST', f'/v1.0/users/{upn}/revokeSignInSessions', 200)]

    deleted = e2e.ok('msgraph-user-delete', params, user=upn)
    assert deleted.readable == f'user: "{upn}" was deleted successfully.'
    assert [(r['method'], r['status']) for r in deleted.graph] == [('DELETE', 204)]
    assert e2e.emulator.tenant.find_user(upn) is None and e2e.emulator.user(user_id) is not None  # soft-deleted

    gone = e2e.ok('msgraph-user-get', params, user=upn)
    assert gone.readable.startswith(f'### User {upn} was not found.')
    assert gone.context == {}


def test_get_delta_rounds(e2e: E2E) -> None:
    params = e2e.params()
    samples = e2e.samples
    e2e.emulator.configure(delta_page_size=150)

    full = e2e.ok('msgraph-user-get-delta', params, properties='displayName,jobTitle')
    assert len(full.context[USERS]) == 200
    # Every delta request asks for Graph's largest page (Prefer: odata.maxpagesize=999), which beats the server's
    # default of 150: the 200 users come in one page.
    assert [r['path'] for r in full.graph] == ['/v1.0/users/delta']
    assert full.graph[0]['headers'].get('Prefer') == 'odata.maxpagesize=999'
    delta_link = full.context['MSGraphUserDelta(true)']['DeltaLink']
    assert 'deltatoken' in delta_link and full.context['MSGraphUserDelta(true)']['Complete'] is True

    # In between: a change made out of band, one made through the integration, and a deletion.
    e2e.emulator.update_user(samples['ceo']['id'], jobTitle='Chief Everything Officer')
    e2e.ok('msgraph-user-update', params, user=samples['loner']['userPrincipalName'],
           updated_fields='displayName=Lonely Loner')
    e2e.ok('msgraph-user-delete', params, user=samples['guest']['id'])

    changes = e2e.ok('msgraph-user-get-delta', params, properties='displayName,jobTitle')
    # The saved deltaLink is followed: one request, only the three changes.
    assert [r['path'] for r in changes.graph] == ['/v1.0/users/delta']
    assert 'deltatoken' in changes.graph[0]['query']
    by_id = {user['ID']: user for user in changes.context[USERS]}
    assert set(by_id) == {samples['ceo']['id'], samples['loner']['id'], samples['guest']['id']}
    assert by_id[samples['ceo']['id']]['JobTitle'] == 'Chief Everything Officer'
    assert by_id[samples['loner']['id']]['DisplayName'] == 'Lonely Loner'
    assert by_id[samples['guest']['id']]['Status'] == 'deleted'
    assert '| deleted |' in changes.readable


def test_relationships(e2e: E2E) -> None:
    params = e2e.params()
    samples = e2e.samples
    ceo, loner, admin = samples['ceo'], samples['loner'], samples['admin']
    with e2e.emulator.lock:
        tenant = e2e.emulator.tenant
        expected_reports = {user['id'] for user in tenant.direct_reports(e2e.stored_user(ceo['id']))}
        apostrophe_manager = tenant.manager_of(e2e.stored_user(samples['apostrophe']['id']))
        assert apostrophe_manager is not None

    reports = e2e.ok('msgraph-direct-reports', params, user=ceo['userPrincipalName'])
    output = reports.context['MSGraphUserDirectReports(val.Manager && val.Manager == obj.Manager)']
    assert output['Manager'] == ceo['userPrincipalName']
    assert {report['ID'] for report in output['Reports']} == expected_reports and expected_reports
    assert f"{ceo['userPrincipalName']} - direct reports" in reports.readable

    manager = e2e.ok('msgraph-user-get-manager', params, user=samples['apostrophe']['userPrincipalName'])
    assert manager.graph[0]['path'] == f"/v1.0/users/{samples['apostrophe']['userPrincipalName']}/manager"
    assert manager.context['MSGraphUserManager(val.User && val.User == obj.User)']['Manager']['ID'] == \
        apostrophe_manager['id']

    none = e2e.ok('msgraph-user-get-manager', params, user=loner['userPrincipalName'])
    assert none.readable == f"#### User {loner['userPrincipalName']} has no manager."

    assigned = e2e.ok('msgraph-user-assign-manager', params, user=loner['userPrincipalName'],
                      manager=ceo['userPrincipalName'])
    [put] = assigned.graph
    assert (put['method'], put['path'], put['status']) == (
        'PUT', f"/v1.0/users/{loner['userPrincipalName']}/manager/$ref", 204)
    assert urllib.parse.unquote(put['body']['@odata.id']) == \
        f"{e2e.emulator.base_url}/v1.0/users/{ceo['userPrincipalName']}"
    assert e2e.stored_user(loner['id'])['_manager'] == ceo['id']

    groups = e2e.ok('msgraph-user-get-groups', params, user=admin['id'])
    output = groups.context['MSGraphUserGroups(val.ID && val.ID == obj.ID)']
    types = {group['@Odata.Type'] for group in output['Groups']}
    assert output['ID'] == admin['id']
    assert types == {'#microsoft.graph.group', '#microsoft.graph.directoryRole', '#microsoft.graph.administrativeUnit'}

    devices = e2e.ok('msgraph-user-owned-devices-list', params, user=admin['userPrincipalName'])
    owned = devices.context[USERS]['OwnedDevice']
    assert len(owned) == 3 and devices.context[USERS]['Id'] == admin['userPrincipalName']
    assert 'ConsistencyLevel' not in devices.graph[0]['headers']
    assert f"Owned Devices for User {admin['userPrincipalName']}:" in devices.readable

    os_name = owned[0]['OperatingSystem']
    filtered = e2e.ok('msgraph-user-owned-devices-list', params, user=admin['userPrincipalName'],
                      filter=f"operatingSystem eq '{os_name}'", limit=2)
    assert filtered.graph[0]['headers'].get('Consistencylevel') == 'eventual'
    assert {device['OperatingSystem'] for device in filtered.context[USERS]['OwnedDevice']} == {os_name}


def test_change_password_on_premise_polls_until_done(e2e: E2E) -> None:
    params = e2e.params()
    hybrid = e2e.samples['hybrid']['userPrincipalName']
    password = 'W1nter!Writeback-e2e'

    started = e2e.ok('msgraph-user-change-password-on-premise', params, user=hybrid, password=password, debug=True)
    assert started.readable == f'Password reset initiated for **{hybrid}**. Polling for status...'
    assert [(r['method'], r['path'].rsplit('/', 1)[-1], r['status']) for r in started.graph] == [
        ('GET', 'passwordMethods', 200), ('POST', 'resetPassword', 202)]
    assert started.graph[1]['body'] == {'newPassword': '<redacted>'}

    # Follow the scheduled runs as the server would: each poll is a new process with the arguments it asked for.
    runs = [started]
    while (scheduled := runs[-1].scheduled()) is not None:
        assert scheduled['command'] == 'msgraph-user-change-password-on-premise'
        assert 'password' not in scheduled['args'] and scheduled['args']['user'] == hybrid
        assert len(runs) < 6
        runs.append(e2e.ok(scheduled['command'], params, **scheduled['args']))
    polls = runs[1:]
    # The emulator answers notStarted, then running, then succeeded.
    assert [run.readable.split('**')[3] for run in polls[:-1]] == ['notStarted', 'running']
    assert all(len(graph_calls(run.graph)) == 1 for run in polls)
    done = polls[-1]
    assert done.readable == f'Password reset **succeeded** for user **{hybrid}**.'
    operation = done.context['MSGraphUser.PasswordResetOperation(val.polling_url && val.polling_url == '
                             'obj.polling_url)']
    assert operation['status'] == 'succeeded' and operation['user'] == hybrid
    assert e2e.stored_user(hybrid)['_password'] == password
    assert all(password not in run.stdout + run.stderr for run in runs)
