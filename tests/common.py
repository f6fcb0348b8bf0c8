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
