"""Constants shared by the unit tests of the integration."""

# Instance params of a self-deployed client-credentials app on the worldwide cloud: what most command tests use.
CLIENT_CREDENTIALS_PARAMS = {
    'azure_cloud': 'Worldwide',
    'host': 'https://graph.microsoft.com',
    'self_deployed': True,
    'creds_auth_id': {'identifier': '', 'password': '11111111-2222-3333-4444-555555555555'},
    'creds_tenant_id': {'identifier': '', 'password': '66666666-7777-8888-9999-000000000000'},
    'creds_enc_key': {'identifier': '', 'password': 'client-secret-value'},
    'handle_error': True,
}
TEST_ACCESS_TOKEN = 'test-access-token-value'
GRAPH_V1 = 'https://graph.microsoft.com/v1.0'


def run_entry_point(command: str, args: dict, params: dict | None = None) -> list[dict]:
    """Run one command through the entry point, as the server does; return its war-room entries."""
    import demistomock as demisto

    import MicrosoftGraphUser as integration

    params = dict(params if params is not None else CLIENT_CREDENTIALS_PARAMS)
    demisto.set_invocation(command, args, params)
    try:
        integration.run_command(command, params, dict(args))
    except SystemExit:
        pass  # return_error ends the run, as on the server
    return demisto.collected_results()
