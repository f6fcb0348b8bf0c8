import demistomock as demisto  # noqa: F401, I001
from CommonServerPython import *  # noqa: F401
from CommonServerUserPython import *  # noqa: F401

# Microsoft Graph access for the Entra ID Users integration.
#
# `AuthSettings.from_params` turns the instance parameters into one validated view; `MicrosoftClient` gets tokens
# (oproxy broker, client secret, certificate, authorization code, managed identity), caches them in the integration
# context and sends Graph requests with retries.
#
# This file is inlined into the integration and shares one namespace with CommonServerPython: helper names carry an
# `ms_` / `Ms` prefix, nothing here rebinds a CommonServerPython name, and msal / cryptography are imported only inside
# the functions that need them (a command with a cached token imports neither).

import base64
import copy
import dataclasses
import hashlib
import io
import json
import math
import os
import pickle
import random
import re
import time
import urllib.parse
import uuid
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import Any, NamedTuple

import requests
import urllib3

# ---------------------------------------------------------------------------------------------------------------
# Constants
# ---------------------------------------------------------------------------------------------------------------

MS_AUTH_CONTEXT_KEY = 'ms_auth'
MS_HTTP_CACHE_KEY = 'msal_http_cache'
MS_OPROXY_BACKOFF_KEY = 'oproxy_backoff'
MS_AUTH_RESERVED_KEYS = (MS_HTTP_CACHE_KEY, MS_OPROXY_BACKOFF_KEY)
# Top-level keys the previous shared module kept; its refresh token is migrated once (authorization-code mode).
MS_LEGACY_REFRESH_TOKEN_KEY = 'current_refresh_token'
MS_LEGACY_TOKEN_KEYS = ('access_token', 'valid_until', MS_LEGACY_REFRESH_TOKEN_KEY)

MS_MODE_OPROXY = 'oproxy'
MS_MODE_CLIENT_CREDENTIALS = 'client_credentials'
MS_MODE_CERTIFICATE = 'certificate'
MS_MODE_AUTH_CODE = 'authorization_code'
MS_MODE_MANAGED_IDENTITY = 'managed_identity'

MS_OPROXY_DEFAULT_URL = 'https://oproxy.demisto.ninja/obtain-token'
MS_OPROXY_APP_NAME = 'ms-graph-user'
MS_OPROXY_MAX_DELAY_COUNTER = 6
MS_AUTH_DOCS_URL = 'https://xsoar.pan.dev/docs/reference/articles/microsoft-integrations---authentication'

MS_DEFAULT_TIMEOUT = 60.0
MS_MAX_TIMEOUT = 600.0
MS_DEFAULT_EXPIRES_IN = 3595
MS_TOKEN_REFRESH_MARGIN = 300  # refresh this many seconds before expiry (at most half the lifetime)
MS_CONTEXT_WRITE_ATTEMPTS = 5
MS_HTTP_CACHE_MAX_BYTES = 65536

MS_RETRY_BUDGET = 120.0  # total seconds one Graph call may spend waiting for throttling to pass
MS_MAX_RETRIES = 5
MS_MAX_BACKOFF = 30.0
# Which statuses are retried for which verbs (graph.md §2). 429/503/509 mean the request was refused, so any verb may be
# repeated; after a 504 the request may have run, so only verbs that are safe to repeat (not POST: a second user, a
# second TAP); 500/502 only for reads.
MS_RETRY_ALWAYS = frozenset({429, 503, 509})
MS_RETRY_504_METHODS = frozenset({'GET', 'HEAD', 'OPTIONS', 'PUT', 'PATCH', 'DELETE'})
MS_RETRY_500_502_METHODS = frozenset({'GET', 'HEAD', 'OPTIONS'})
# The one hard cap of a paged read (the integration's all_results uses it too): at most 200,000 items in memory, which
# still lists a 50,000-user tenant in 51 pages of 999. The page guard allows that many items in Graph's smallest
# default pages (100), so it never stops a read before the item cap does.
MAX_PAGED_ITEMS = 200_000
MS_MAX_PAGES = MAX_PAGED_ITEMS // 100
# JSON batching (graph.md §7): Graph takes at most 20 sub-requests per POST $batch.
MS_BATCH_MAX_REQUESTS = 20

MS_IMDS_CONNECT_TIMEOUT = 5.0
MS_IMDS_RETRIES = 7  # with the backoff below: 0+1.6+3.2+6.4+12.8+25.6+51.2 = 100.8 s, above the 70 s IMDS needs
MS_IMDS_BACKOFF_FACTOR = 0.8
MS_IMDS_MAX_RETRY_AFTER = 30.0
MS_IMDS_RETRY_STATUSES = frozenset({404, 410, 429, 500, 502, 503, 504})

MS_OPROXY_BAD_CONTENT_ERROR = ('There was a problem in retrieving an updated access token.\n'
                               'The response from the Oproxy server did not contain the expected content.')
MS_AUTH_RESET_CODES = frozenset({50173, 700082, 70008, 54005, 7000222})
MS_AUTH_RESET_HINT = 'You can run the ***msgraph-user-auth-reset*** command to reset the authentication process.'
# After a refused refresh token: when to look again for a successor another run of the instance is saving (seconds).
MS_SUCCESSOR_WAITS = (0.0, 0.1, 0.3, 0.6)
MS_SIGN_IN_AGAIN_HINT = ('To sign in again: run ***msgraph-user-generate-login-url***, put the new code into '
                         '"Authorization code", then run ***msgraph-user-test***.')
MS_SESSION_STATE_ERROR = ('Malformed auth_code parameter: Please copy the auth code from the redirected uri without '
                          'any additional info and without the "session_state" query parameter.')

# Login hosts msal knows; for any other host (a custom cloud, the emulator) msal's authority validation is switched off.
MS_KNOWN_LOGIN_HOSTS = frozenset({
    'login.microsoftonline.com', 'login.microsoft.com', 'login.windows.net', 'login.microsoftonline.us',
    'login.usgovcloudapi.net', 'login.chinacloudapi.cn', 'login.partner.microsoftonline.cn',
    'login.microsoftonline.de',
})


# ---------------------------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------------------------

class MicrosoftConfigError(DemistoException):
    """A configuration mistake; the message says which parameter to fill in or fix."""

    def __init__(self, message: str) -> None:
        super().__init__(message)


class MicrosoftAuthError(DemistoException):
    """A token request failed; the message carries Entra's error text, never a secret."""

    def __init__(self, message: str) -> None:
        super().__init__(message)


class GraphError(DemistoException):
    """Graph answered a non-OK status (after retries).

    ``str(e)`` is ``'<status> <code>: <message> (request-id <id>, date <date>)'``.
    """

    def __init__(self, status: int, code: str, graph_message: str, request_id: str = '', date: str = '',
                 method: str = '', url: str = '', res: Any = None, note: str = '') -> None:
        self.status = status
        self.code = code
        self.graph_message = graph_message
        self.request_id = request_id
        self.date = date
        self.method = method
        self.url = url
        text = (f'{status} {code}: {graph_message} '
                f'(request-id {request_id or "unknown"}, date {date or "unknown"})')
        super().__init__(f'{text} {note}' if note else text, res=res)


class GraphThrottledError(GraphError):
    """429/503/504 (or another retryable status) still came back when the retry budget ran out.

    ``str(e)`` is the GraphError text followed by ``' Throttled: retry after <N> s.'``; `retry_after` holds N.
    """

    def __init__(self, status: int, code: str, graph_message: str, request_id: str = '', date: str = '',
                 method: str = '', url: str = '', res: Any = None, retry_after: float = 0.0) -> None:
        self.retry_after = retry_after
        super().__init__(status, code, graph_message, request_id, date, method, url, res=res,
                         note=f'Throttled: retry after {math.ceil(retry_after)} s.')


# ---------------------------------------------------------------------------------------------------------------
# National clouds (auth.md §9): login host, Graph host and token audience always come from one record
# ---------------------------------------------------------------------------------------------------------------

class CloudEndpoints(NamedTuple):
    name: str
    login_host: str  # scheme + host, no trailing slash
    graph_host: str  # scheme + host, no trailing slash


AZURE_CLOUDS: dict[str, CloudEndpoints] = {
    'Worldwide': CloudEndpoints('Worldwide', 'https://login.microsoftonline.com', 'https://graph.microsoft.com'),
    # GCC Moderate lives on the worldwide hosts (Microsoft's national-cloud tables; auth.md §9).
    'US GCC': CloudEndpoints('US GCC', 'https://login.microsoftonline.com', 'https://graph.microsoft.com'),
    'US GCC-High': CloudEndpoints('US GCC-High', 'https://login.microsoftonline.us', 'https://graph.microsoft.us'),
    'DoD': CloudEndpoints('DoD', 'https://login.microsoftonline.us', 'https://dod-graph.microsoft.us'),
    'Germany': CloudEndpoints('Germany', 'https://login.microsoftonline.de', 'https://graph.microsoft.de'),
    'China': CloudEndpoints('China', 'https://login.chinacloudapi.cn', 'https://microsoftgraph.chinacloudapi.cn'),
    # The hosts of the Custom cloud come from the `login_host` and `host` parameters.
    'Custom': CloudEndpoints('Custom', '', ''),
}


# ---------------------------------------------------------------------------------------------------------------
# Small pure helpers
# ---------------------------------------------------------------------------------------------------------------

def ms_sleep(seconds: float) -> None:
    """Sleep for `seconds` (no-op for 0 or less). Every wait in this module goes through here so tests can patch it."""
    if seconds > 0:
        time.sleep(seconds)


def encode_path_segment(value: str, arg_name: str) -> str:
    """Percent-encode one URL path segment with nothing left safe ('/' -> %2F, '#' -> %23).

    Returns the encoded segment. Raises ValueError naming `arg_name` for an empty value, a control character, text
    that is not valid unicode (a lone surrogate cannot be UTF-8 encoded), or a value of only dots: requests decodes
    %2E back to '.', so '.' / '..' would leave the intended path whatever the encoding.
    """
    text = '' if value is None else str(value)
    if not text.strip():
        raise ValueError(f'The "{arg_name}" argument must not be empty.')
    if any(ord(char) < 32 or ord(char) == 127 for char in text):
        raise ValueError(f'The "{arg_name}" argument must not contain control characters (such as a line break).')
    if any(0xD800 <= ord(char) <= 0xDFFF for char in text):
        raise ValueError(f'The "{arg_name}" argument is not valid unicode text (it contains a lone surrogate).')
    if set(text) == {'.'}:
        raise ValueError(f'The "{arg_name}" argument must not consist of dots only (got "{text}").')
    return urllib.parse.quote(text, safe='')


def odata_quote(value: str) -> str:
    """Return `value` as an OData string literal: wrapped in single quotes, inner quotes doubled."""
    return "'" + str(value).replace("'", "''") + "'"


def ms_dict(value: Any) -> dict:
    """`value` when it is a dict, else {} (integration-context values are read defensively)."""
    return value if isinstance(value, dict) else {}


def ms_fingerprint(value: str) -> str:
    """Return the sha256 hex digest of `value` ('' for an empty value): identifies a secret without storing it."""
    return hashlib.sha256(value.encode('utf-8')).hexdigest() if value else ''


def ms_param_bool(value: Any) -> bool:
    """Interpret a checkbox parameter (bool, or a string such as 'true') leniently; anything unknown is False."""
    if isinstance(value, bool):
        return value
    return str(value or '').strip().lower() in ('true', 'yes', '1')


def ms_param_text(params: dict, name: str) -> str:
    """Return a plain (or legacy encrypted) string parameter, stripped; '' when absent."""
    value = params.get(name)
    if isinstance(value, dict):  # a credentials-type parameter given where a string is expected
        value = value.get('password')
    return str(value or '').strip()


def ms_credential_half(params: dict, name: str, half: str) -> str:
    """Return `identifier` or `password` of a type-9 credentials parameter, stripped; '' when absent."""
    value = params.get(name)
    if not isinstance(value, dict):
        return ''
    return str(value.get(half) or '').strip()


def ms_pick(params: dict, credential_name: str, legacy_name: str, half: str = 'password') -> str:
    """The credentials parameter wins over its hidden legacy counterpart (commands.md §3.2)."""
    return ms_credential_half(params, credential_name, half) or ms_param_text(params, legacy_name)


def ms_expires_in(token_response: dict) -> int:
    """Lifetime in seconds from a token response (`expires_in` may be a string; missing means 3595)."""
    try:
        return max(0, int(float(token_response.get('expires_in') or MS_DEFAULT_EXPIRES_IN)))
    except (TypeError, ValueError):
        return MS_DEFAULT_EXPIRES_IN


def ms_valid_until(expires_in: int, now: float) -> int:
    """Epoch second after which a token is treated as expired: a few minutes early, at most half its lifetime."""
    margin = min(MS_TOKEN_REFRESH_MARGIN, expires_in / 2)
    return int(now + expires_in - margin)


def ms_clean_entra_description(description: str) -> str:
    """Drop the 'AADSTSnnnn: ' prefix and the 'Trace ID / Correlation ID / Timestamp' tail of an Entra description."""
    text = re.sub(r'^\s*AADSTS\d+:\s*', '', str(description or ''))
    text = re.split(r'\s*(?:Trace ID|Correlation ID|Timestamp):', text)[0]
    return text.strip()


def ms_entra_error_text(body: Any) -> str | None:
    """Readable text of an Entra or Graph error body (auth.md §12), or None when `body` is not one.

    Graph style ``{"error": {"code", "message"}}`` gives '<code>: <message>'. OAuth style
    ``{"error", "error_description", "error_codes"}`` gives '<error>.' + newline + '<description>', plus the auth-reset
    hint when every error code is one that a new sign-in fixes.
    """
    if not isinstance(body, dict):
        return None
    error = body.get('error')
    if isinstance(error, dict):
        return f"{error.get('code') or 'Error'}: {error.get('message') or ''}".strip()
    if not isinstance(error, str) or not error:
        return None
    text = f'{error}.'
    description = ms_clean_entra_description(body.get('error_description') or '')
    if description:
        text += f'\n{description}'
    # What Microsoft support traces a sign-in failure by (the description's own copy was cut above).
    ids = [f'{label} {body[key]}' for key, label in (('trace_id', 'trace ID'), ('correlation_id', 'correlation ID'))
           if isinstance(body.get(key), str) and body[key]]
    if ids:
        text += f' ({", ".join(ids)})'
    codes = body.get('error_codes')
    if isinstance(codes, list) and codes and all(ms_int_or_none(code) in MS_AUTH_RESET_CODES for code in codes):
        text += f'\n{MS_AUTH_RESET_HINT}'
    return text


def ms_int_or_none(value: Any) -> int | None:
    """`int(value)`, or None when it is not a number."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def ms_first_json_object(text: str) -> Any:
    """The first JSON object embedded in `text` (the oproxy broker wraps Entra errors in prose), or None."""
    decoder = json.JSONDecoder()
    start = text.find('{')
    while start != -1:
        try:
            return decoder.raw_decode(text, start)[0]
        except ValueError:
            start = text.find('{', start + 1)
    return None


def ms_short_text(text: str, limit: int = 300) -> str:
    """Collapse whitespace and cut `text` to `limit` characters (for non-JSON error bodies such as HTML pages)."""
    collapsed = ' '.join(str(text or '').split())
    return collapsed if len(collapsed) <= limit else collapsed[:limit] + '...'


def ms_parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header given as delta seconds or as an HTTP date; None when absent/invalid."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
        return max(0.0, seconds) if math.isfinite(seconds) else None
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - now)


def ms_backoff_delay(attempt: int) -> float:
    """Exponential backoff with jitter for retry `attempt` (0-based): 0.5 * 2^attempt + up to 1 s, capped."""
    return min(MS_MAX_BACKOFF, 0.5 * (2 ** attempt) + random.uniform(0, 1))


def ms_host(url: str) -> str:
    """`scheme://host[:port]` of `url` (for messages that name the host)."""
    parts = urllib.parse.urlsplit(url)
    return f'{parts.scheme}://{parts.netloc}' if parts.netloc else url


def ms_same_origin(url: str, base: str) -> bool:
    """True when `url` is on the same scheme, host and port as `base`."""
    one, two = urllib.parse.urlsplit(url), urllib.parse.urlsplit(base)
    return (one.scheme.lower(), one.netloc.lower()) == (two.scheme.lower(), two.netloc.lower())


def ms_encode_query(params: dict) -> str:
    """Encode query parameters with %20 for spaces (never '+', which OData reads literally); None values are dropped.

    Booleans become 'true' / 'false' and lists are joined with commas.
    """
    pairs = []
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, bool):
            value = 'true' if value else 'false'
        elif isinstance(value, list | tuple):
            value = ','.join(str(item) for item in value)
        pairs.append((key, str(value)))
    return urllib.parse.urlencode(pairs, quote_via=urllib.parse.quote, safe='$')


def ms_transport_cause(error: Exception, timeout: Any) -> str:
    """A short, secret-free description of a requests transport error."""
    # After urllib3 retries (the managed-identity session) a read timeout arrives as a ConnectionError wrapping
    # MaxRetryError(ReadTimeoutError): still a timeout, not a failed connection.
    if isinstance(error, requests.exceptions.Timeout) or 'ReadTimeoutError' in str(error):
        return f'no answer within {timeout} s (timeout)'
    if isinstance(error, requests.exceptions.SSLError):
        if 'CERTIFICATE_VERIFY_FAILED' in str(error):
            return ('the TLS certificate could not be verified; fix the certificate chain or select '
                    '"Trust any certificate (not secure)"')
        return 'the TLS handshake failed'
    if isinstance(error, requests.exceptions.ProxyError):
        return 'the proxy failed or refused the connection; check the proxy, or clear "Use system proxy settings"'
    match = re.search(r'\[Errno -?\d+\] ([^\'")\]]+)', str(error))
    if match:
        return match.group(1).strip().rstrip('.')
    if isinstance(error, requests.exceptions.ConnectionError):
        return 'the connection failed'
    return type(error).__name__


def ms_x_content_headers() -> dict:
    """The X-Content-* headers the oproxy broker expects, or {} when the runtime cannot build them."""
    try:
        return dict(get_x_content_info_headers())
    except Exception as error:  # the headers are informational: never fail a token request over them
        demisto.debug(f'ms_auth: X-Content headers omitted ({type(error).__name__})')
        return {}


def ms_register_secrets(*values: str) -> None:
    """Register runtime secrets with the log masker (parameter masking does not cover tokens or legacy auth codes)."""
    for value in values:
        if value:
            add_sensitive_log_strs(value)


# ---------------------------------------------------------------------------------------------------------------
# Integration context
# ---------------------------------------------------------------------------------------------------------------

def mutate_integration_context(mutator: Callable[[dict], None]) -> dict:
    """Read the integration context with its version, apply `mutator` to a copy and write it with that version.

    A concurrent write makes the versioned write fail (ValueError); then the whole read-modify-write is repeated, so
    concurrent commands never overwrite each other's keys. Nothing is written when `mutator` changes nothing.

    Returns the context as written. Raises DemistoException when the context kept changing for every attempt.
    """
    for attempt in range(1, MS_CONTEXT_WRITE_ATTEMPTS + 1):
        current, version = get_integration_context_with_version()
        updated = copy.deepcopy(current or {})
        mutator(updated)
        if updated == (current or {}):
            return updated
        try:
            set_integration_context(updated, version=version)
            return updated
        except ValueError as error:
            demisto.debug(f'ms_auth: integration context write conflict ({attempt}/{MS_CONTEXT_WRITE_ATTEMPTS}): '
                          f'{type(error).__name__}')
            ms_sleep(random.uniform(0.05, 0.25))
    raise DemistoException('Could not save the integration context: other commands of this instance kept changing it. '
                           'Run the command again.')


class MsHttpCacheUnpickler(pickle.Unpickler):
    """Loads a persisted msal http_cache, refusing every class except msal's cached-response class.

    The blob comes from the integration context; a restricted unpickler keeps a tampered blob from running code.
    """

    ALLOWED = frozenset({('msal.throttled_http_client', 'NormalizedResponse')})

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f'refusing to load {module}.{name} from the msal http cache')
        return super().find_class(module, name)


def ms_load_http_cache(blob: Any) -> dict:
    """The msal http_cache dict from its persisted form (base64 pickle); {} when absent or unreadable."""
    if not blob or not isinstance(blob, str):
        return {}
    try:
        loaded = MsHttpCacheUnpickler(io.BytesIO(base64.b64decode(blob))).load()
    except Exception as error:  # a cache is disposable: start afresh
        demisto.debug(f'ms_auth: msal http cache discarded ({type(error).__name__})')
        return {}
    return loaded if isinstance(loaded, dict) else {}


def ms_dump_http_cache(cache: dict) -> str | None:
    """Persistable form (base64 pickle) of msal's http_cache, or None when it cannot or should not be stored."""
    try:
        raw = pickle.dumps(cache, protocol=4)
    except Exception as error:
        demisto.debug(f'ms_auth: msal http cache not persisted ({type(error).__name__})')
        return None
    if len(raw) > MS_HTTP_CACHE_MAX_BYTES:
        return None
    return base64.b64encode(raw).decode('ascii')


# ---------------------------------------------------------------------------------------------------------------
# Settings
# ---------------------------------------------------------------------------------------------------------------

def ms_normalise_host(value: str, param_name: str) -> str:
    """`https://host[:port][/path]` without a trailing slash (a trailing /v1.0 or /beta is dropped).

    Raises MicrosoftConfigError naming `param_name` when the value is not an https URL.
    """
    text = value.strip().rstrip('/')
    text = re.sub(r'/(v1\.0|beta)$', '', text, flags=re.IGNORECASE)
    parts = urllib.parse.urlsplit(text)
    if parts.scheme.lower() != 'https' or not parts.netloc or parts.query or parts.fragment:
        raise MicrosoftConfigError(f'The "{param_name}" parameter must be an https URL such as '
                                   f'https://graph.microsoft.com (got "{ms_short_text(value, 100)}").')
    return text


def ms_cloud_from_params(params: dict) -> CloudEndpoints:
    """The cloud record for `azure_cloud` (auth.md §9).

    'Custom' takes the Graph host from `host` and the login host from `login_host`. An empty `azure_cloud` is a legacy
    instance: the Graph host comes from `host`, and the login host from the known cloud with that Graph host (else
    `login_host`, else worldwide).

    Raises MicrosoftConfigError for an unknown cloud or missing/invalid Custom hosts.
    """
    name = ms_param_text(params, 'azure_cloud')
    if name == 'Custom':
        return ms_custom_cloud(params)
    if name:
        cloud = AZURE_CLOUDS.get(name)
        if cloud is None:
            options = ', '.join(AZURE_CLOUDS)
            raise MicrosoftConfigError(f'Unknown "Azure Cloud" value "{ms_short_text(name, 50)}". '
                                       f'Choose one of: {options}.')
        return cloud
    graph_host = ms_normalise_host(ms_param_text(params, 'host') or AZURE_CLOUDS['Worldwide'].graph_host, 'host')
    login_param = ms_param_text(params, 'login_host')
    if login_param:
        return CloudEndpoints('Custom', ms_normalise_host(login_param, 'login_host'), graph_host)
    for cloud in AZURE_CLOUDS.values():
        if cloud.graph_host and cloud.graph_host.lower() == graph_host.lower():
            return cloud
    return CloudEndpoints('Custom', AZURE_CLOUDS['Worldwide'].login_host, graph_host)


def ms_custom_cloud(params: dict) -> CloudEndpoints:
    """The Custom cloud from the `host` (Graph) and `login_host` parameters. Raises MicrosoftConfigError."""
    host, login_host = ms_param_text(params, 'host'), ms_param_text(params, 'login_host')
    missing = [label for label, value in (('"Server URL" (host)', host), ('"Login host" (login_host)', login_host))
               if not value]
    if missing:
        raise MicrosoftConfigError(f'The Custom Azure cloud needs {" and ".join(missing)}: fill in the Graph URL '
                                   f'(e.g. https://graph.microsoft.com) and the login URL '
                                   f'(e.g. https://login.microsoftonline.com).')
    return CloudEndpoints('Custom', ms_normalise_host(login_host, 'login_host'), ms_normalise_host(host, 'host'))


def ms_timeout_from_params(params: dict) -> float:
    """The `timeout` parameter in seconds (default 60). Raises MicrosoftConfigError for a non-number or out of range."""
    raw = params.get('timeout')
    if raw is None or str(raw).strip() == '':
        return MS_DEFAULT_TIMEOUT
    try:
        value = float(str(raw).strip())
    except ValueError:
        value = -1.0
    if not 1 <= value <= MS_MAX_TIMEOUT:
        raise MicrosoftConfigError(f'The "timeout" parameter must be a number of seconds between 1 and '
                                   f'{int(MS_MAX_TIMEOUT)} (got "{ms_short_text(str(raw), 30)}").')
    return value


def ms_oproxy_key_bytes(key_b64: str) -> bytes:
    """The AES key of the oproxy `Key` parameter. Raises MicrosoftConfigError unless it is base64 of 16/24/32 bytes."""
    try:
        key = base64.b64decode(''.join(key_b64.split()), validate=True)
    except ValueError:
        key = b''
    if len(key) not in (16, 24, 32):
        raise MicrosoftConfigError('The "Key" parameter is not the key received from the admin consent page: it '
                                   'must be base64 text of a 16, 24 or 32 byte key. Copy it again into '
                                   '"Key / Client Secret".')
    return key


def ms_normalise_thumbprint(value: str) -> str:
    """The SHA-1 thumbprint as 40 lower-case hex digits (colons and spaces removed). Raises MicrosoftConfigError."""
    text = re.sub(r'[\s:]', '', value).lower()
    if not re.fullmatch(r'[0-9a-f]{40}', text):
        raise MicrosoftConfigError('The "Certificate Thumbprint" parameter must be the SHA-1 thumbprint of the '
                                   'certificate: 40 hexadecimal characters, as shown on the app\'s '
                                   '"Certificates & secrets" page.')
    return text


@dataclasses.dataclass(frozen=True)
class AuthSettings:
    """Parsed, validated view of the instance parameters (build it with `AuthSettings.from_params`).

    In oproxy mode `client_id` is the registration ID, `tenant_id` the oproxy Token and `client_secret` the base64 Key.
    Secret fields are left out of repr().
    """

    mode: str
    cloud: CloudEndpoints
    tenant_id: str = dataclasses.field(default='', repr=False)
    client_id: str = ''
    client_secret: str = dataclasses.field(default='', repr=False)
    thumbprint: str = ''
    private_key: str = dataclasses.field(default='', repr=False)
    auth_code: str = dataclasses.field(default='', repr=False)
    redirect_uri: str = ''
    managed_identity_client_id: str = ''
    oproxy_url: str = ''
    verify: bool = True
    proxy: bool = False
    timeout: float = MS_DEFAULT_TIMEOUT
    self_deployed: bool = False  # the parameter as set (managed identity forces self-deployed without setting it)

    @classmethod
    def from_params(cls, params: dict) -> 'AuthSettings':
        """Build the settings from `demisto.params()`, choosing the token path as commands.md §3.2 describes.

        Returns the settings. Raises MicrosoftConfigError with the parameter to fill in or fix.
        """
        params = params or {}
        common: dict[str, Any] = {
            'cloud': ms_cloud_from_params(params),
            'verify': not ms_param_bool(params.get('insecure')),
            'proxy': ms_param_bool(params.get('proxy')),
            'timeout': ms_timeout_from_params(params),
            'self_deployed': ms_param_bool(params.get('self_deployed')),
        }
        if ms_param_bool(params.get('use_managed_identities')):
            identity = ms_credential_half(params, 'managed_identities_client_id', 'password')
            if identity.upper() == 'SYSTEM_ASSIGNED':
                identity = ''
            return cls(mode=MS_MODE_MANAGED_IDENTITY, managed_identity_client_id=identity, **common)
        if not common['self_deployed']:
            return cls.oproxy_settings(params, common)
        return cls.self_deployed_settings(params, common)

    @classmethod
    def oproxy_settings(cls, params: dict, common: dict) -> 'AuthSettings':
        """Settings for the Cortex XSOAR multi-tenant app (oproxy). Raises MicrosoftConfigError."""
        key = ms_pick(params, 'creds_enc_key', 'enc_key')
        if not key:
            raise MicrosoftConfigError(f'Key must be provided. For further information see {MS_AUTH_DOCS_URL}')
        ms_oproxy_key_bytes(key)
        registration = ms_pick(params, 'creds_auth_id', 'auth_id')
        token = ms_pick(params, 'creds_tenant_id', 'tenant_id')
        if not registration:
            raise MicrosoftConfigError('ID must be provided: fill in "ID / Client ID" with the ID received from the '
                                       f'admin consent page. For further information see {MS_AUTH_DOCS_URL}')
        if not token:
            raise MicrosoftConfigError('Token must be provided: fill in "Token / Tenant ID" with the Token received '
                                       f'from the admin consent page. For further information see {MS_AUTH_DOCS_URL}')
        oproxy_url = MS_OPROXY_DEFAULT_URL
        if registration.count('@') == 1:
            registration, oproxy_url = (part.strip() for part in registration.split('@'))
        return cls(mode=MS_MODE_OPROXY, client_id=registration, tenant_id=token, client_secret=key,
                   oproxy_url=oproxy_url, **common)

    @classmethod
    def self_deployed_settings(cls, params: dict, common: dict) -> 'AuthSettings':
        """Settings for a self-deployed app: secret, certificate or authorization code. Raises MicrosoftConfigError."""
        secret = ms_pick(params, 'creds_enc_key', 'enc_key')
        thumbprint = ms_pick(params, 'creds_certificate', 'certificate_thumbprint', half='identifier')
        private_key = (replace_spaces_in_credential(ms_pick(params, 'creds_certificate', 'private_key')) or '').strip()
        auth_code = ms_pick(params, 'creds_auth_code', 'auth_code')
        redirect_uri = ms_param_text(params, 'redirect_uri')
        if auth_code and not redirect_uri:
            raise MicrosoftConfigError('Please provide both Application redirect URI and Authorization code for '
                                       'Authorization Code flow, or None for the Client Credentials flow')
        if bool(thumbprint) != bool(private_key):
            missing = 'Private Key' if thumbprint else 'Certificate Thumbprint'
            raise MicrosoftConfigError(f'Certificate authentication needs both "Certificate Thumbprint" and '
                                       f'"Private Key": fill in "{missing}", or clear both to use the client secret.')
        if not secret and not thumbprint:
            raise MicrosoftConfigError('Key or Certificate Thumbprint and Private Key must be provided.')
        client_id = ms_pick(params, 'creds_auth_id', 'auth_id')
        tenant_id = ms_pick(params, 'creds_tenant_id', 'tenant_id')
        if not client_id:
            raise MicrosoftConfigError('Client ID must be provided: fill in "ID / Client ID" with the application '
                                       '(client) ID of the app registration.')
        if not tenant_id:
            raise MicrosoftConfigError('Tenant ID must be provided: fill in "Token / Tenant ID" with the directory '
                                       '(tenant) ID.')
        if thumbprint:
            thumbprint, secret = ms_normalise_thumbprint(thumbprint), ''  # the certificate replaces the secret
        if auth_code:  # grant = authorization code only with both the code and the redirect URI (checked above)
            mode = MS_MODE_AUTH_CODE
        else:
            mode = MS_MODE_CERTIFICATE if thumbprint else MS_MODE_CLIENT_CREDENTIALS
        return cls(mode=mode, client_id=client_id, tenant_id=tenant_id, client_secret=secret, thumbprint=thumbprint,
                   private_key=private_key, auth_code=auth_code, redirect_uri=redirect_uri, **common)

    @property
    def scope(self) -> str:
        """The token scope: the cloud's Graph host + '/.default'."""
        return f'{self.cloud.graph_host}/.default'

    @property
    def authority(self) -> str:
        """`<login host>/<tenant>`, the msal authority."""
        return f'{self.cloud.login_host}/{urllib.parse.quote(self.tenant_id, safe="")}'

    @property
    def uses_certificate(self) -> bool:
        """True when a certificate assertion replaces the client secret."""
        return bool(self.thumbprint and self.private_key)

    def secret_values(self) -> list[str]:
        """Every secret held by these settings (for the log masker)."""
        values = [self.client_secret, self.private_key, self.auth_code]
        if self.mode == MS_MODE_OPROXY:
            values.append(self.tenant_id)
        return [value for value in values if value]

    def cache_key(self) -> str:
        """sha256 over every auth parameter (secrets only by fingerprint): any change selects a new token entry."""
        material = [
            self.mode, self.tenant_id if self.mode != MS_MODE_OPROXY else '', self.client_id,
            self.cloud.login_host, self.cloud.graph_host, self.scope, self.oproxy_url,
            ms_fingerprint(self.client_secret), ms_fingerprint(self.private_key), ms_fingerprint(self.thumbprint),
            ms_fingerprint(self.tenant_id) if self.mode == MS_MODE_OPROXY else '',
            ms_fingerprint(self.auth_code), ms_fingerprint(self.redirect_uri),
            ms_fingerprint(self.managed_identity_client_id),
        ]
        return hashlib.sha256(json.dumps(material).encode('utf-8')).hexdigest()


# ---------------------------------------------------------------------------------------------------------------
# HTTP plumbing for the token paths
# ---------------------------------------------------------------------------------------------------------------

class MsalHttpClient:
    """The HTTP client handed to msal: the Graph client's session, with the instance's TLS, proxy and timeout.

    msal forbids its own verify/proxies/timeout options once an http_client is given, so they are applied here.
    `last_status` keeps the status of the last response for error messages.
    """

    def __init__(self, session: requests.Session, *, verify: bool, proxies: dict | None, timeout: float) -> None:
        self.session = session
        self.verify = verify
        self.proxies = proxies
        self.timeout = timeout
        self.last_status: int | None = None
        self.last_error_body: str | None = None

    def post(self, url: str, **kwargs: Any) -> requests.Response:
        return self.send('POST', url, **kwargs)

    def get(self, url: str, **kwargs: Any) -> requests.Response:
        return self.send('GET', url, **kwargs)

    def close(self) -> None:
        """The session belongs to the Graph client, which closes it."""

    def send(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault('timeout', self.timeout)
        kwargs.setdefault('verify', self.verify)
        if self.proxies is not None:
            kwargs.setdefault('proxies', self.proxies)
        response = self.session.request(method, url, **kwargs)
        self.last_status = response.status_code
        # msal raises on a 5xx without reading the body; keep Entra's error answer (never a token answer) for the text.
        self.last_error_body = response.text if response.status_code >= 400 else None
        return response


class MsImdsRetry(urllib3.util.Retry):
    """urllib3 retry policy for the managed-identity endpoint whose waits go through `ms_sleep`.

    Retry-After is honoured but capped, so the whole retry sequence stays bounded.
    """

    def sleep(self, response: Any = None) -> None:
        delay = None
        if response is not None and self.respect_retry_after_header:
            try:
                delay = self.get_retry_after(response)
            except Exception:  # an unreadable Retry-After falls back to the backoff
                delay = None
        if delay is None:
            delay = self.get_backoff_time()
        ms_sleep(min(float(delay), MS_IMDS_MAX_RETRY_AFTER))


class MsTimeoutSession(requests.Session):
    """A requests session with a default timeout (msal's managed-identity calls pass none)."""

    def __init__(self, timeout: Any) -> None:
        super().__init__()
        self.default_timeout = timeout
        self.last_status: int | None = None

    def request(self, method: Any, url: Any, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs.setdefault('timeout', self.default_timeout)
        response = super().request(method, url, *args, **kwargs)
        self.last_status = response.status_code
        return response


def ms_managed_identity_session(timeout: float) -> MsTimeoutSession:
    """Session for IMDS / App Service: never proxied, retries 404/410 (identity not ready, IMDS upgrading) for more
    than 70 s in total and 429/5xx with exponential backoff; every wait is bounded."""
    from requests.adapters import HTTPAdapter  # local: CommonServerPython defines the same global name

    session = MsTimeoutSession(timeout=(min(MS_IMDS_CONNECT_TIMEOUT, timeout), timeout))
    session.trust_env = False  # the link-local endpoint must never go through a proxy from the environment
    session.proxies = {}
    retry = MsImdsRetry(total=MS_IMDS_RETRIES, connect=1, read=1, status=MS_IMDS_RETRIES,
                        backoff_factor=MS_IMDS_BACKOFF_FACTOR, status_forcelist=MS_IMDS_RETRY_STATUSES,
                        allowed_methods=frozenset({'GET'}), raise_on_status=False, respect_retry_after_header=True)
    adapter = HTTPAdapter(max_retries=retry)
    session.mount('http://', adapter)
    session.mount('https://', adapter)
    return session


def ms_oproxy_encrypt(plaintext: str, key_b64: str) -> str:
    """AES-GCM encrypt `plaintext` with the oproxy key: base64 of 12-byte nonce || ciphertext || 16-byte tag."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(12)
    sealed = AESGCM(ms_oproxy_key_bytes(key_b64)).encrypt(nonce, plaintext.encode('utf-8'), None)
    return base64.b64encode(nonce + sealed).decode('ascii')


def ms_find_entra_error(body: Any, text: str) -> str | None:
    """Entra error text from an oproxy broker answer: the body itself, or the first JSON object embedded in one of
    its strings (the broker wraps Entra's answer, e.g. 'Error: failed to get access token with err: {...}')."""
    if isinstance(body, dict):
        candidates = [body] + [ms_first_json_object(value) for value in body.values() if isinstance(value, str)]
    else:
        candidates = [ms_first_json_object(text)]
    for candidate in candidates:
        if isinstance(candidate, dict) and (isinstance(candidate.get('error'), dict)
                                            or 'error_description' in candidate or 'error_codes' in candidate):
            return ms_entra_error_text(candidate)
    return None


def ms_oproxy_error_text(response: requests.Response) -> str:
    """'Error in Microsoft authorization. Status: <code>, body: <X>' plus ' Server message: <M>' when the broker sent
    one (auth.md §2). <X> is the Entra error the broker relayed, else the raw text."""
    text = response.text or ''
    try:
        body = response.json()
    except ValueError:
        body = None
    extracted = ms_find_entra_error(body, text) or ms_short_text(text)
    message = f'Error in Microsoft authorization. Status: {response.status_code}, body: {extracted}'
    server_message = ''
    if isinstance(body, dict):
        server_message = str(body.get('message') or '')
        if not server_message and (body.get('title') or body.get('detail')):
            server_message = '. '.join(str(part) for part in (body.get('title'), body.get('detail')) if part)
    if server_message:
        message += f' Server message: {ms_short_text(server_message)}'
    return message


def ms_pem_private_key_problem(private_key: str) -> str | None:
    """Why the PEM private key cannot be used, or None when it loads."""
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        load_pem_private_key(private_key.encode('utf-8'), password=None)
    except TypeError:
        return 'it is encrypted; paste an unencrypted PEM private key'
    except Exception as error:  # cryptography reports malformed keys with several exception types
        return f'it is not a PEM private key ({type(error).__name__})'
    return None


def ms_graph_error_fields(response: requests.Response, method: str, url: str) -> dict:
    """GraphError fields parsed defensively from a Graph error answer: error.code / error.message and
    innerError request-id / date, else the response headers; non-JSON bodies give the HTTP reason and a short text."""
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get('error') if isinstance(body, dict) else None
    inner: dict = {}
    if isinstance(error, dict):
        code = str(error.get('code') or response.reason or 'Error')
        message = str(error.get('message') or '')
        found = error.get('innerError') or error.get('innererror')
        inner = found if isinstance(found, dict) else {}
    elif isinstance(error, str) and error and isinstance(body, dict):
        code, message = error, ms_clean_entra_description(body.get('error_description') or '')
    else:
        code, message = str(response.reason or 'Error'), ms_short_text(response.text or '')
    return {
        'status': response.status_code, 'code': code, 'graph_message': message,
        'request_id': str(inner.get('request-id') or response.headers.get('request-id') or ''),
        'date': str(inner.get('date') or response.headers.get('Date') or ''),
        'method': method, 'url': url, 'res': response,
    }


# ---------------------------------------------------------------------------------------------------------------
# JSON batching (graph.md §7): the pure helpers of MicrosoftClient.batch
# ---------------------------------------------------------------------------------------------------------------

def ms_batch_request(request: dict) -> dict:
    """A checked copy of one $batch sub-request: string id, upper-case method, url relative to the version root with a
    leading '/', and 'Content-Type: application/json' in its own headers when it has a body (Graph refuses a body
    without one).

    Raises ValueError for a missing id, method or url, or an absolute url.
    """
    sub = {key: value for key, value in request.items() if value is not None}
    request_id, method, url = (str(sub.get(key) or '') for key in ('id', 'method', 'url'))
    if not request_id or not method or not url:
        raise ValueError('Every $batch sub-request needs an id, a method and a url.')
    if re.match(r'^[A-Za-z][A-Za-z0-9+.-]*://', url):
        raise ValueError(f'The url of $batch sub-request {request_id} must be relative to the version root.')
    sub.update(id=request_id, method=method.upper(), url='/' + url.lstrip('/'))
    if 'body' in sub:
        headers = dict(sub.get('headers') or {})
        if not any(key.lower() == 'content-type' for key in headers):
            headers['Content-Type'] = 'application/json'
        sub['headers'] = headers
    if sub.get('dependsOn'):
        sub['dependsOn'] = [str(dependency) for dependency in sub['dependsOn']]
    return sub


def ms_batch_chunks(requests: list[dict], size: int = MS_BATCH_MAX_REQUESTS) -> list[list[dict]]:
    """`requests` split, in order, into $batch bodies of at most `size`, never separating a request from the requests
    it depends on (Graph orders sub-requests only within one batch).

    Raises ValueError for a dependsOn naming an id not in `requests`, or more than `size` requests linked together.
    """
    parent = {request['id']: request['id'] for request in requests}

    def root(request_id: str) -> str:
        while parent[request_id] != request_id:
            request_id = parent[request_id]
        return request_id

    for request in requests:
        for dependency in request.get('dependsOn') or []:
            if dependency not in parent:
                raise ValueError(f'$batch sub-request {request["id"]} depends on {dependency}, which is not sent.')
            parent[root(request['id'])] = root(dependency)
    groups: dict[str, list[dict]] = {}
    for request in requests:
        groups.setdefault(root(request['id']), []).append(request)
    chunks: list[list[dict]] = []
    current: list[dict] = []
    for group in groups.values():
        if len(group) > size:
            raise ValueError(f'{len(group)} $batch sub-requests depend on each other; at most {size} can be ordered.')
        if len(current) + len(group) > size:
            chunks.append(current)
            current = []
        current.extend(group)
    if current:
        chunks.append(current)
    return chunks


def ms_batch_header(response: dict, name: str) -> str | None:
    """A header of a $batch sub-response, matched case-insensitively; None when absent."""
    headers = response.get('headers')
    if not isinstance(headers, dict):
        return None
    return next((str(value) for key, value in headers.items() if str(key).lower() == name.lower()), None)


def ms_batch_status(response: dict) -> int:
    """The status of a $batch sub-response (0 when unreadable)."""
    return ms_int_or_none(response.get('status')) or 0


def ms_batch_error_fields(response: dict) -> tuple[str, str]:
    """(code, message) of a failed $batch sub-response: Graph's error.code / error.message when the body has them."""
    body = response.get('body')
    error = body.get('error') if isinstance(body, dict) else None
    if isinstance(error, dict):
        return str(error.get('code') or 'Error'), str(error.get('message') or '')
    return 'Error', ms_short_text(body if isinstance(body, str) else '')


def ms_batch_failure(request_id: str, status: int, code: str, message: str) -> dict:
    """A sub-response made up for a sub-request Graph did not answer on its own (the whole batch was refused)."""
    return {'id': request_id, 'status': status, 'headers': {}, 'body': {'error': {'code': code, 'message': message}}}


def ms_batch_resubmission(request: dict, resent_ids: set[str]) -> dict:
    """`request` to send again: its dependsOn keeps only requests sent again with it (the others already succeeded)."""
    again = dict(request)
    depends_on = [dependency for dependency in request.get('dependsOn') or [] if dependency in resent_ids]
    if depends_on:
        again['dependsOn'] = depends_on
    else:
        again.pop('dependsOn', None)
    return again


# ---------------------------------------------------------------------------------------------------------------
# The client
# ---------------------------------------------------------------------------------------------------------------

class MicrosoftClient(BaseClient):
    """Microsoft Graph client: gets and caches tokens for the configured mode and sends Graph requests.

    Requests go through the BaseClient session (pool, TLS adapter and proxy handling of the real runtime) but not
    through `BaseClient._http_request`: the retry loop needs every status (429/503 and their Retry-After, 401 for
    one token refresh), `_http_request` lets read timeouts escape unwrapped, and its transport messages do not name
    the host. Doing the call here keeps the behaviour identical on the real runtime and with the stand-ins.
    """

    def __init__(self, settings: AuthSettings, command: str = '') -> None:
        self.settings = settings
        self.command = command
        super().__init__(base_url=f'{settings.cloud.graph_host}/v1.0/', verify=settings.verify,
                         proxy=settings.proxy, timeout=settings.timeout)
        # Explicit per-call proxies: with the checkbox off nothing may come from the process environment.
        self._proxies: dict | None = None if settings.proxy else {'http': '', 'https': ''}
        self._cache_key = settings.cache_key()
        # The token in use during this run, so paging does not re-read the integration context for every page.
        self._token = ''
        self._token_valid_until = 0.0
        ms_register_secrets(*settings.secret_values())

    # ----- URLs -----

    def graph_url(self, path: str, api_version: str = 'v1.0') -> str:
        """`<graph host>/<api_version>/<path>` (the client's own base URL is never changed)."""
        return f'{self.settings.cloud.graph_host}/{api_version.strip("/")}/{path.lstrip("/")}'

    def generate_login_url(self) -> str:
        """The authorize URL an admin opens to get an authorization code, on the configured cloud's login host.

        Returns the URL; every query value is percent-encoded. Raises MicrosoftConfigError outside self-deployed mode
        or, with 'Missing:<list>', when client ID, tenant ID or redirect URI are not set.
        """
        if self.settings.mode in (MS_MODE_OPROXY, MS_MODE_MANAGED_IDENTITY):
            raise MicrosoftConfigError('The login URL is only used with a self-deployed application (authorization '
                                       'code flow): select "Use a self-deployed Azure application" and fill in the '
                                       'client ID, tenant ID and Application redirect URI.')
        missing = [label for label, value in (('Client ID', self.settings.client_id),
                                              ('Tenant ID', self.settings.tenant_id),
                                              ('Redirect URI', self.settings.redirect_uri)) if not value]
        if missing:
            raise MicrosoftConfigError('Please make sure you entered the Authorization configuration correctly. '
                                       f'Missing:{", ".join(missing)}')
        query = urllib.parse.urlencode([
            ('response_type', 'code'),
            ('scope', f'offline_access {self.settings.scope}'),
            ('client_id', self.settings.client_id),
            ('redirect_uri', self.settings.redirect_uri),
        ], quote_via=urllib.parse.quote, safe='')
        return f'{self.settings.authority}/oauth2/v2.0/authorize?{query}'

    # ----- tokens -----

    def get_access_token(self, force_refresh: bool = False) -> str:
        """A valid access token: the cached one when it has a few minutes left, else a new one (which is persisted).

        `force_refresh` skips the cache (after a 401). Returns the token. Raises MicrosoftAuthError when the token
        request fails and MicrosoftConfigError for configuration problems found only then.
        """
        if not force_refresh and self._token and self._token_valid_until > time.time():
            return self._token
        context = ms_dict(get_integration_context())
        state = dict(ms_dict(context.get(MS_AUTH_CONTEXT_KEY)))
        entry = ms_dict(state.get(self._cache_key))
        if not force_refresh and entry.get('access_token') and float(entry.get('valid_until') or 0) > time.time():
            self._token, self._token_valid_until = str(entry['access_token']), float(entry['valid_until'])
            ms_register_secrets(self._token)
            return self._token
        demisto.debug(f'ms_auth: requesting a token ({self.settings.mode}, cloud {self.settings.cloud.name})')
        if self.settings.mode == MS_MODE_OPROXY:
            return self.oproxy_token(state)
        if self.settings.mode == MS_MODE_MANAGED_IDENTITY:
            return self.managed_identity_token()
        legacy_refresh_token = '' if entry else str(context.get(MS_LEGACY_REFRESH_TOKEN_KEY) or '')
        return self.msal_token(state, entry, legacy_refresh_token)

    def reset_auth(self) -> None:
        """Forget every token, refresh token, msal cache and oproxy backoff state of this instance (including the
        token keys the previous module kept at the top level)."""

        def forget(context: dict) -> None:
            for key in (MS_AUTH_CONTEXT_KEY, *MS_LEGACY_TOKEN_KEYS):
                context.pop(key, None)

        self._token, self._token_valid_until = '', 0.0
        mutate_integration_context(forget)

    def save_token(self, token_response: dict, extra: Callable[[dict], None] | None = None) -> str:
        """Persist a successful token response under this configuration's cache key, atomically with `extra`.

        Other configurations' entries are dropped; a refresh token is replaced only by a non-empty new one.
        Returns the access token. Raises MicrosoftAuthError when the response has no access token.
        """
        access_token = str(token_response.get('access_token') or '')
        refresh_token = str(token_response.get('refresh_token') or '')
        ms_register_secrets(access_token, refresh_token)
        if not access_token:
            raise MicrosoftAuthError('Error in Microsoft authorization: the token response did not contain an '
                                     'access token.')
        valid_until = ms_valid_until(ms_expires_in(token_response), time.time())
        cache_key = self._cache_key

        def store(context: dict) -> None:
            auth = dict(ms_dict(context.get(MS_AUTH_CONTEXT_KEY)))
            previous = ms_dict(auth.get(cache_key))
            for key in [key for key in auth if key not in MS_AUTH_RESERVED_KEYS and key != cache_key]:
                del auth[key]
            entry = {'access_token': access_token, 'valid_until': valid_until}
            kept_refresh_token = refresh_token or previous.get('refresh_token')
            if kept_refresh_token:
                entry['refresh_token'] = kept_refresh_token
            auth[cache_key] = entry
            context[MS_AUTH_CONTEXT_KEY] = auth
            if extra:
                extra(context)

        mutate_integration_context(store)
        self._token, self._token_valid_until = access_token, float(valid_until)
        demisto.debug(f'ms_auth: token stored ({self.settings.mode}, valid for {int(valid_until - time.time())} s)')
        return access_token

    # oproxy (auth.md §2) -----------------------------------------------------------------------------------------

    def oproxy_token(self, state: dict) -> str:
        """Token from the Cortex XSOAR broker, honouring and maintaining the client-side backoff."""
        backoff = ms_dict(state.get(MS_OPROXY_BACKOFF_KEY))
        next_request_time = float(backoff.get('next_request_time') or 0.0)
        if time.time() < next_request_time:
            when = time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(next_request_time))
            raise MicrosoftAuthError(f'The request will be delayed until {when}')
        settings = self.settings
        body = {
            'app_name': MS_OPROXY_APP_NAME,
            'registration_id': settings.client_id,
            'encrypted_token': ms_oproxy_encrypt(f'{int(time.time())}:{settings.tenant_id}', settings.client_secret),
            'scope': None,
            'resource': '',
        }
        try:
            response = self._session.post(settings.oproxy_url, json=body, headers=ms_x_content_headers(),
                                          verify=self._verify, proxies=self._proxies, timeout=self.timeout)
        except requests.exceptions.RequestException as error:
            self.record_oproxy_failure()
            raise MicrosoftAuthError(f'Error in Microsoft authorization: could not reach {ms_host(settings.oproxy_url)}'
                                     f': {ms_transport_cause(error, self.timeout)}') from None
        demisto.debug(f'ms_auth: oproxy answered {response.status_code} '
                      f'(Function-Execution-Id {response.headers.get("Function-Execution-Id")})')
        if not response.ok:
            self.record_oproxy_failure()
            raise MicrosoftAuthError(ms_oproxy_error_text(response))
        try:
            parsed = response.json()
            if not isinstance(parsed, dict):
                raise ValueError('not an object')
        except ValueError:
            self.record_oproxy_failure()
            raise MicrosoftAuthError(MS_OPROXY_BAD_CONTENT_ERROR) from None
        token_response = {key: value for key, value in parsed.items() if key != 'refresh_token'}
        return self.save_token(token_response, extra=lambda context: context[MS_AUTH_CONTEXT_KEY].pop(
            MS_OPROXY_BACKOFF_KEY, None))

    def record_oproxy_failure(self) -> None:
        """After a failed broker call wait 2^counter s (at most 64 s) before the next one (auth.md §2)."""

        def delay(context: dict) -> None:
            auth = dict(ms_dict(context.get(MS_AUTH_CONTEXT_KEY)))
            previous = ms_dict(auth.get(MS_OPROXY_BACKOFF_KEY))
            counter = int(previous.get('delay_request_counter') or 1)
            auth[MS_OPROXY_BACKOFF_KEY] = {
                'next_request_time': time.time() + min(2 ** counter, 64),
                'delay_request_counter': min(counter + 1, MS_OPROXY_MAX_DELAY_COUNTER),
            }
            context[MS_AUTH_CONTEXT_KEY] = auth

        mutate_integration_context(delay)

    # msal: client credentials, certificate, authorization code (auth.md §3-§5) ---------------------------------------

    def msal_token(self, state: dict, entry: dict, legacy_refresh_token: str = '') -> str:
        """Token through msal's ConfidentialClientApplication; the msal http_cache is persisted with the token.

        In authorization-code mode the stored refresh token is used when there is one; on the first run after an
        upgrade, the refresh token the previous module left at the top level (`legacy_refresh_token`) is used once.
        """
        settings = self.settings
        refresh_token = str(entry.get('refresh_token') or legacy_refresh_token) if settings.mode == MS_MODE_AUTH_CODE \
            else ''
        if settings.mode == MS_MODE_AUTH_CODE and not refresh_token and 'session_state' in settings.auth_code:
            raise MicrosoftConfigError(MS_SESSION_STATE_ERROR)
        if legacy_refresh_token and refresh_token == legacy_refresh_token:
            demisto.debug('ms_auth: migrating the refresh token of the previous module')
        import msal

        credential: Any = settings.client_secret
        if settings.uses_certificate:
            problem = ms_pem_private_key_problem(settings.private_key)
            if problem:
                raise MicrosoftConfigError(f'The "Private Key" parameter cannot be used: {problem}.')
            credential = {'private_key': settings.private_key, 'thumbprint': settings.thumbprint}
        http_cache = ms_load_http_cache(state.get(MS_HTTP_CACHE_KEY))
        blob_before = ms_dump_http_cache(http_cache)
        http_client = MsalHttpClient(self._session, verify=self._verify, proxies=self._proxies, timeout=self.timeout)
        known_host = urllib.parse.urlsplit(settings.cloud.login_host).netloc.lower() in MS_KNOWN_LOGIN_HOSTS
        try:
            # instance_discovery=False for every host: unknown hosts (Custom, the emulator) must not be looked up at
            # login.microsoftonline.com, and for known hosts msal would only use it to fetch authority aliases
            # after an error answer (one more GET) for a cross-alias cache this client never uses.
            app = msal.ConfidentialClientApplication(
                settings.client_id, client_credential=credential, authority=settings.authority,
                http_client=http_client, http_cache=http_cache, validate_authority=known_host,
                instance_discovery=False)
            result = self.msal_acquire(app, refresh_token)
            newer = self.successor_refresh_token(result, refresh_token, legacy_refresh_token)
            if newer:
                result = self.msal_acquire(app, newer)
        except Exception as error:  # msal raises transport, JSON and configuration errors of many types
            self.persist_http_cache(http_cache, blob_before, drop_legacy=bool(legacy_refresh_token))
            raise self.msal_exception_error(error, http_client) from None
        if not isinstance(result, dict) or not result.get('access_token'):
            self.persist_http_cache(http_cache, blob_before, drop_legacy=bool(legacy_refresh_token))
            raise self.msal_result_error(result, http_client.last_status)
        blob_after = ms_dump_http_cache(http_cache)

        def store_cache(context: dict) -> None:
            if blob_after and blob_after != blob_before:
                context[MS_AUTH_CONTEXT_KEY][MS_HTTP_CACHE_KEY] = blob_after
            if legacy_refresh_token:  # migrated: the previous module's token keys are no longer needed
                for key in MS_LEGACY_TOKEN_KEYS:
                    context.pop(key, None)

        return self.save_token(result, extra=store_cache)

    def successor_refresh_token(self, result: Any, used: str, legacy: str) -> str:
        """The refresh token another run of this instance stored after `used` was read, when Entra refused `used`
        (invalid_grant); else ''.

        Two commands that refresh at once both send the stored token; where Entra (or a stricter server) refuses a
        token once it was used, the slower one fails although the faster one just saved a good successor. The faster
        one may still be saving it, so the context is read a few times over about a second.
        """
        if not used or used == legacy or not isinstance(result, dict) or result.get('error') != 'invalid_grant':
            return ''
        for delay in MS_SUCCESSOR_WAITS:
            ms_sleep(delay)
            entry = ms_dict(ms_dict(get_integration_context().get(MS_AUTH_CONTEXT_KEY)).get(self._cache_key))
            newer = str(entry.get('refresh_token') or '')
            if newer and newer != used:
                demisto.debug('ms_auth: the refresh token was replaced by another run; using its successor')
                return newer
        return ''

    def msal_acquire(self, app: Any, refresh_token: str) -> dict:
        """Run the msal call of this mode: client credentials, code redemption, or refresh-token exchange."""
        settings = self.settings
        scopes = [settings.scope]  # msal adds offline_access, openid and profile for the delegated calls
        if settings.mode != MS_MODE_AUTH_CODE:
            return app.acquire_token_for_client(scopes=scopes)
        if refresh_token:
            ms_register_secrets(refresh_token)
            return app.acquire_token_by_refresh_token(refresh_token, scopes=scopes)
        return app.acquire_token_by_authorization_code(settings.auth_code, scopes=scopes,
                                                       redirect_uri=settings.redirect_uri)

    def persist_http_cache(self, http_cache: dict, blob_before: str | None, drop_legacy: bool = False) -> None:
        """After a failed token request: keep what msal learned (authority metadata, throttling), and forget a
        migrated refresh token that did not work, so the next run redeems the authorization code instead."""
        blob_after = ms_dump_http_cache(http_cache)

        def store(context: dict) -> None:
            if blob_after and blob_after != blob_before:
                auth = dict(ms_dict(context.get(MS_AUTH_CONTEXT_KEY)))
                auth[MS_HTTP_CACHE_KEY] = blob_after
                context[MS_AUTH_CONTEXT_KEY] = auth
            if drop_legacy:
                context.pop(MS_LEGACY_REFRESH_TOKEN_KEY, None)

        try:
            mutate_integration_context(store)
        except DemistoException as error:  # the token error matters more than the cache
            demisto.debug(f'ms_auth: msal http cache not saved: {error}')

    def msal_result_error(self, result: Any, status: int | None) -> MicrosoftAuthError:
        """MicrosoftAuthError from an msal error result ({'error', 'error_description', 'error_codes', ...})."""
        text = ms_entra_error_text(result) if isinstance(result, dict) else None
        text = self.redact(text or 'the token response did not contain an access token.')
        if self.settings.mode == MS_MODE_AUTH_CODE and isinstance(result, dict) \
                and result.get('error') == 'invalid_grant':
            # Neither the kept refresh token nor the (already redeemed) code will work again: only a new sign-in does.
            text += f'\n{MS_SIGN_IN_AGAIN_HINT}'
        return MicrosoftAuthError(f'Error in Microsoft authorization. Status: {status or "unknown"}, body: {text}')

    def msal_exception_error(self, error: Exception, http_client: MsalHttpClient) -> MicrosoftAuthError:
        """MicrosoftAuthError for an exception raised inside msal (transport, bad JSON, bad authority...)."""
        if isinstance(error, requests.exceptions.RequestException):
            return MicrosoftAuthError(f'Error in Microsoft authorization: could not reach '
                                      f'{self.settings.cloud.login_host}: {ms_transport_cause(error, self.timeout)}')
        try:
            entra = ms_entra_error_text(json.loads(http_client.last_error_body or ''))
        except ValueError:
            entra = None
        if entra:
            return MicrosoftAuthError(f'Error in Microsoft authorization. Status: {http_client.last_status}, body: '
                                      f'{self.redact(entra)}')
        # No request went out: msal answered from its http cache, which keeps a 429/5xx for its Retry-After.
        replayed = re.search(r'HTTP Error: (\d{3})', str(error)) if http_client.last_status is None else None
        if replayed:
            return MicrosoftAuthError(f'Error in Microsoft authorization: the login endpoint answered HTTP '
                                      f'{replayed.group(1)} moments ago, and it is not asked again before the wait it '
                                      'named is over (5 s when it named none). Run the command again shortly.')
        status = f' Status: {http_client.last_status}.' if http_client.last_status else ''
        detail = self.redact(ms_short_text(str(error), 300))
        return MicrosoftAuthError(f'Error in Microsoft authorization:{status} {type(error).__name__}: {detail}')

    def redact(self, text: str) -> str:
        """`text` with every secret of this instance replaced (defence in depth for texts built from msal errors)."""
        for secret in self.settings.secret_values():
            text = text.replace(secret, '<redacted>')
        return text

    # managed identity (auth.md §7) -------------------------------------------------------------------------------

    def managed_identity_token(self) -> str:
        """Token from the Azure managed-identity endpoint for the configured cloud's Graph host (the resource).

        The IMDS address can be overridden with msal's AZURE_POD_IDENTITY_AUTHORITY_HOST; App Service is detected by
        msal from IDENTITY_ENDPOINT / IDENTITY_HEADER.
        """
        import msal

        identity_id = self.settings.managed_identity_client_id
        identity = (msal.UserAssignedManagedIdentity(client_id=identity_id) if identity_id
                    else msal.SystemAssignedManagedIdentity())
        session = ms_managed_identity_session(self.timeout)
        prefix = 'Error in Microsoft authorization with Azure Managed Identities:'
        try:
            client = msal.ManagedIdentityClient(identity, http_client=session)
            result = client.acquire_token_for_client(resource=self.settings.cloud.graph_host)
        except requests.exceptions.RequestException as error:
            raise MicrosoftAuthError(f'{prefix} could not reach the managed identity endpoint: '
                                     f'{ms_transport_cause(error, self.timeout)}') from None
        except Exception as error:  # msal reports unexpected payloads with plain exceptions
            raise MicrosoftAuthError(f'{prefix} {type(error).__name__}: {ms_short_text(str(error))}') from None
        finally:
            session.close()
        if not isinstance(result, dict) or not result.get('access_token'):
            text = ms_entra_error_text(result) or 'the response did not contain an access token.'
            raise MicrosoftAuthError(f'{prefix} Status: {session.last_status or "unknown"}, body: {text}')
        return self.save_token(result)

    # ----- Graph requests -----

    def http_request(self, method: str, url_suffix: str = '', *, full_url: str | None = None,
                     params: dict | None = None, json_data: Any = None, headers: dict | None = None,
                     api_version: str = 'v1.0', resp_type: str = 'json', timeout: float | None = None,
                     ok_codes: tuple[int, ...] | None = None) -> Any:
        """Send one Graph request with the access token, retrying throttling and transient errors.

        429/503/509 are retried for every verb, 504 for verbs that are safe to repeat, 500/502 for GET; Retry-After
        (seconds or HTTP date) is honoured, otherwise exponential backoff with jitter, all within a total wait budget.
        A 401 triggers one forced token refresh and one more attempt. A `full_url` on another host is sent only with
        the caller's own Authorization header (the Graph token never leaves the Graph host).

        Returns the parsed JSON body (None for 204 or an empty body), or the text / bytes / Response for
        resp_type 'text' / 'content' / 'response'. Raises GraphError for a non-OK status, GraphThrottledError when
        the budget ran out, MicrosoftAuthError when no token could be obtained and DemistoException for transport
        errors (naming the host and the cause).
        """
        method = method.upper()
        url = full_url or self.graph_url(url_suffix, api_version)
        if params:
            url += ('&' if '?' in url else '?') + ms_encode_query(params)
        request_headers = {'Accept': 'application/json', 'client-request-id': str(uuid.uuid4())}
        if json_data is not None:
            request_headers['Content-Type'] = 'application/json'
        request_headers.update(headers or {})
        own_token = not any(key.lower() == 'authorization' for key in request_headers)
        if own_token and not ms_same_origin(url, self.settings.cloud.graph_host):
            raise DemistoException(f'Refusing to send the Microsoft Graph token to {ms_host(url)}: the URL is not on '
                                   f'the configured Graph host {self.settings.cloud.graph_host}.')
        if own_token:
            request_headers['Authorization'] = f'Bearer {self.get_access_token()}'
        response = self.send_with_retries(method, url, request_headers, json_data, timeout or self.timeout,
                                          ok_codes, own_token)
        return self.parse_response(response, resp_type, method, url)

    def send_with_retries(self, method: str, url: str, headers: dict, json_data: Any, timeout: float,
                          ok_codes: tuple[int, ...] | None, own_token: bool) -> requests.Response:
        """The retry / refresh loop of `http_request`; returns the final OK response or raises GraphError."""
        waited, retries, refreshed = 0.0, 0, False
        while True:
            response = self.send_once(method, url, headers, json_data, timeout)
            status = response.status_code
            if (status in ok_codes) if ok_codes else (200 <= status < 300):
                return response
            if status == 401 and own_token and not refreshed:
                refreshed = True
                demisto.debug('ms_graph: 401 received, refreshing the token once')
                headers['Authorization'] = f'Bearer {self.get_access_token(force_refresh=True)}'
                continue
            if not self.is_retryable(method, status):
                raise GraphError(**ms_graph_error_fields(response, method, url))
            delay = ms_parse_retry_after(response.headers.get('Retry-After'), time.time())
            delay = ms_backoff_delay(retries) if delay is None else delay
            if retries >= MS_MAX_RETRIES or waited + delay > MS_RETRY_BUDGET:
                raise GraphThrottledError(**ms_graph_error_fields(response, method, url), retry_after=delay)
            demisto.debug(f'ms_graph: {status} for {method} {urllib.parse.urlsplit(url).path}, retry {retries + 1} '
                          f'in {delay:.1f} s')
            ms_sleep(delay)
            waited += delay
            retries += 1
            headers['retry-attempt'] = str(retries)

    @staticmethod
    def is_retryable(method: str, status: int) -> bool:
        """Whether `status` may be retried for `method` (graph.md §2)."""
        if status in MS_RETRY_ALWAYS:
            return True
        if status == 504:
            return method in MS_RETRY_504_METHODS
        return status in (500, 502) and method in MS_RETRY_500_502_METHODS

    def send_once(self, method: str, url: str, headers: dict, json_data: Any, timeout: float) -> requests.Response:
        """One HTTP exchange on the client's session. Raises DemistoException (host + cause) for transport errors."""
        try:
            response = self._session.request(method, url, headers=headers, json=json_data, verify=self._verify,
                                             proxies=self._proxies, timeout=timeout)
        except requests.exceptions.RequestException as error:
            # No answer, so no request-id: the id this client sent is what Microsoft can trace the request by.
            raise DemistoException(f'Microsoft Graph request failed ({method} {ms_host(url)}'
                                   f'{urllib.parse.urlsplit(url).path}): {ms_transport_cause(error, timeout)} '
                                   f'(client-request-id {headers.get("client-request-id") or "unknown"}).',
                                   exception=error) from None
        demisto.debug(f'ms_graph: {method} {urllib.parse.urlsplit(url).path} -> {response.status_code} '
                      f'(request-id {response.headers.get("request-id", "-")})')
        return response

    @staticmethod
    def parse_response(response: requests.Response, resp_type: str, method: str, url: str) -> Any:
        """The body in the form `resp_type` asks for; None for an empty JSON body. Raises DemistoException."""
        if resp_type == 'response':
            return response
        if resp_type == 'text':
            return response.text
        if resp_type == 'content':
            return response.content
        if response.status_code == 204 or not response.content or not response.content.strip():
            return None
        try:
            return response.json()
        except ValueError:
            raise DemistoException(f'Microsoft Graph returned a body that is not JSON for {method} '
                                   f'{urllib.parse.urlsplit(url).path} (status {response.status_code}, content type '
                                   f'{response.headers.get("Content-Type", "unknown")}, request-id '
                                   f'{response.headers.get("request-id") or "unknown"}).') from None

    def list_paged(self, url_suffix: str = '', *, full_url: str | None = None, params: dict | None = None,
                   headers: dict | None = None, limit: int | None = None, api_version: str = 'v1.0',
                   max_items: int = MAX_PAGED_ITEMS) -> tuple[list[dict], str | None]:
        """GET a collection and follow '@odata.nextLink' verbatim, with the same headers, until `limit` items.

        `limit` None means every item, up to `max_items`. Send `$top` yourself: items beyond `limit` on the last page
        are cut, and continuing from the returned link resumes after that page.

        Returns (items[:limit], next_link), where next_link is the link to continue from or None at the end.
        Raises what `http_request` raises.
        """
        cap = min(limit, max_items) if limit is not None else max_items
        page = self.http_request('GET', url_suffix, full_url=full_url, params=params, headers=headers,
                                 api_version=api_version)
        items: list[dict] = []
        pages = 1
        while True:
            page = page if isinstance(page, dict) else {}
            items.extend(page.get('value') or [])
            next_link = page.get('@odata.nextLink') or None
            if not next_link or len(items) >= cap or pages >= MS_MAX_PAGES:
                return items[:cap], next_link
            page = self.http_request('GET', full_url=next_link, headers=headers)
            pages += 1

    # ----- JSON batching (graph.md §7) -----

    def batch(self, requests: list[dict], api_version: str = 'v1.0') -> dict[str, dict]:
        """Send sub-requests through JSON batching (POST /<api_version>/$batch, 20 per batch) and return every answer.

        Each request is ``{'id', 'method', 'url', 'headers'?, 'body'?, 'dependsOn'?}`` with `url` relative to the
        version root and its segments already encoded (e.g. ``/users/a%40b.com``); a request with a body gets
        ``Content-Type: application/json`` unless it names one. Requests linked by dependsOn travel in one batch.

        Graph throttles each sub-request on its own: inner answers that may be repeated (429/503/509 for any verb, 504
        for repeatable verbs, 500/502 for GET) are sent again - only those ids, with the requests that failed 424
        because of them - after the largest Retry-After among them (else exponential backoff), within the client's
        retry budget (MS_MAX_RETRIES, MS_RETRY_BUDGET); when it runs out, their last answer is returned. A whole
        batch that Graph refuses (after http_request's own retries) gives its error as the answer of each of its
        sub-requests and is not sent again, so the work done by the other batches is still reported.

        Returns ``{id: {'id', 'status', 'headers', 'body'}}`` with an answer for every request. Raises ValueError for
        malformed requests (before anything is sent), MicrosoftAuthError when no token could be obtained and
        DemistoException for transport errors.
        """
        subs = [ms_batch_request(request) for request in requests]
        by_id = {sub['id']: sub for sub in subs}
        if len(by_id) != len(subs):
            raise ValueError('The ids of $batch sub-requests must be unique.')
        ms_batch_chunks(subs)  # refuses bad dependencies before anything is sent
        responses: dict[str, dict] = {}
        refused: set[str] = set()
        pending, waited, retries = subs, 0.0, 0
        while True:
            for chunk in ms_batch_chunks(pending):
                answers, whole_batch_refused = self.send_batch(chunk, api_version)
                responses.update(answers)
                if whole_batch_refused:
                    refused.update(answers)
            throttled, resent = self.batch_retry_ids(pending, responses, refused)
            if not resent:
                return responses
            now = time.time()
            delays = [ms_parse_retry_after(ms_batch_header(responses[request_id], 'Retry-After'), now)
                      for request_id in throttled]
            given = [delay for delay in delays if delay is not None]
            delay = max(given) if given else ms_backoff_delay(retries)
            if retries >= MS_MAX_RETRIES or waited + delay > MS_RETRY_BUDGET:
                demisto.debug(f'ms_graph: $batch: {len(throttled)} sub-requests still throttled, retry budget spent')
                return responses
            demisto.debug(f'ms_graph: $batch: {len(throttled)} sub-requests throttled, sending {len(resent)} again '
                          f'in {delay:.1f} s (retry {retries + 1})')
            ms_sleep(delay)
            waited += delay
            retries += 1
            pending = [ms_batch_resubmission(sub, resent) for sub in subs if sub['id'] in resent]

    def send_batch(self, chunk: list[dict], api_version: str) -> tuple[dict[str, dict], bool]:
        """POST one $batch body. Returns (answers by id - one for every request of `chunk` -, whether Graph refused
        the batch as a whole)."""
        try:
            body = self.http_request('POST', '$batch', json_data={'requests': chunk}, api_version=api_version)
        except GraphError as error:
            demisto.debug(f'ms_graph: $batch of {len(chunk)} refused: {error.status} {error.code}')
            return {sub['id']: ms_batch_failure(sub['id'], error.status, error.code, error.graph_message)
                    for sub in chunk}, True
        ids = {sub['id'] for sub in chunk}
        found = body.get('responses') if isinstance(body, dict) else None
        answers = {str(answer['id']): answer for answer in found or []
                   if isinstance(answer, dict) and str(answer.get('id')) in ids}
        for sub in chunk:
            if sub['id'] not in answers:
                answers[sub['id']] = ms_batch_failure(sub['id'], 502, 'BatchResponseMissing',
                                                      'The $batch answer has no response for this request.')
        return answers, False

    def batch_retry_ids(self, sent: list[dict], responses: dict[str, dict],
                        refused: set[str]) -> tuple[set[str], set[str]]:
        """(ids whose answer may be repeated, those ids plus the requests that failed 424 because of them)."""
        throttled = {sub['id'] for sub in sent if sub['id'] not in refused
                     and self.is_retryable(sub['method'], ms_batch_status(responses[sub['id']]))}
        resent = set(throttled)
        grew = True
        while grew:
            grew = False
            for sub in sent:
                if sub['id'] not in resent and ms_batch_status(responses[sub['id']]) == 424 \
                        and resent.intersection(sub.get('dependsOn') or []):
                    resent.add(sub['id'])
                    grew = True
        return throttled, resent
