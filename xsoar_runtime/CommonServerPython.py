"""Local stand-in for Cortex XSOAR's CommonServerPython (demisto/content, Packs/Base/Scripts/CommonServerPython).

The server prepends the real file to every integration; this one implements the subset an integration like ours
uses, with the real names, signatures, defaults, message texts and behaviour. It defines no ``__all__``: a star import
exports every public global, including the standard-library modules imported below, exactly like the real one.

It runs both ways the real one does: imported as a module (unit tests), and as the head of one code string executed
by ``xsoar_runner`` (the way the server runs it). Known differences from the real file are listed in
``xsoar_runtime/README.md``.
"""
import base64
import binascii  # noqa: F401
import gc  # noqa: F401
import gzip  # noqa: F401
import json
import logging
import os
import re
import socket  # noqa: F401
import ssl
import sys
import time
import traceback
import types  # noqa: F401
import urllib
import urllib.parse
import warnings
import xml.etree.ElementTree as ET
from abc import abstractmethod  # noqa: F401
from collections import OrderedDict  # noqa: F401
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone  # noqa: F401
from functools import wraps
from inspect import currentframe
from random import randint
from threading import Lock  # noqa: F401
from typing import Any, Dict, List, Optional, Set, Union, cast  # noqa: F401, UP035

import demistomock as demisto
import requests
from requests.adapters import HTTPAdapter
from urllib3 import disable_warnings
from urllib3.util import Retry
from urllib3.util.ssl_ import create_urllib3_context


def __line__() -> int:
    """The line number of the caller (used by the module-line markers of a unified script)."""
    frame = currentframe()
    return frame.f_back.f_lineno if frame and frame.f_back else 0


# Where this file starts in the code string (0 when it is the first thing in it, as on the server).
_MODULES_LINE_MAPPING: dict[str, dict[str, float]] = {
    'CommonServerPython': {'start': __line__() - 55, 'end': float('inf')},
}

MASK = '<XX_REPLACED>'
SEND_PREFIX = "send: b'"
SAFE_SLEEP_START_TIME = datetime.now()
MAX_ERROR_MESSAGE_LENGTH = 50000
CONTENT_RELEASE_VERSION = '0.0.0'
CONTENT_BRANCH_NAME = 'master'
IS_PY3 = sys.version_info[0] == 3
PY_VER_MINOR = sys.version_info[1]
STRING_TYPES = (str, bytes)
STRING_OBJ_TYPES = (str,)
CONTEXT_UPDATE_RETRY_TIMES = 3
MIN_VERSION_FOR_VERSIONED_CONTEXT = '6.0.0'


def register_module_line(module_name: str, start_end: str, line: int, wrapper: int = 0) -> None:
    """Records where an inlined module starts or ends in the code string, to correct traceback line numbers."""
    try:
        if start_end not in ('start', 'end'):
            raise ValueError('Invalid start_end argument. Acceptable values are: start, end.')
        if not isinstance(line, int) or line < 0:
            raise ValueError(f'Invalid line argument. Expected non-negative integer, got {type(line)}({line})')
        default = {'start': 0, 'start_wrapper': 0, 'end': float('inf'), 'end_wrapper': float('inf')}
        _MODULES_LINE_MAPPING.setdefault(module_name, default).update(
            {start_end: line, f'{start_end}_wrapper': line + wrapper})
    except Exception as exc:
        demisto.info(f'failed to register module line. module: "{module_name}" start_end: "{start_end}" '
                     f'line: "{line}".\nError: {exc}')


def _find_relevant_module(line: int) -> str:
    relevant = ''
    for module, info in _MODULES_LINE_MAPPING.items():
        if info['start'] <= line <= info['end']:
            if not relevant or info['start'] > _MODULES_LINE_MAPPING[relevant]['start']:
                relevant = module
    return relevant


def fix_traceback_line_numbers(trace_str: str) -> str:
    """Rewrites ``File "<string>", line N`` into the module and line the code came from."""
    for number in re.findall(r'line (\d+)', trace_str):
        line_num = int(number)
        module = _find_relevant_module(line_num)
        if not module:
            continue
        module_start = _MODULES_LINE_MAPPING.get(module, {'start': 0})['start']
        actual = line_num - module_start
        # Inlined modules that end before this line shift it by their own length.
        adjusted: dict[float, float] = {}
        blocks = sorted(_MODULES_LINE_MAPPING.values(), key=lambda i: int(i.get('start_wrapper', i['start'])))
        for info in blocks:
            block_start = info.get('start_wrapper', info['start'])
            block_end = info.get('end_wrapper', info['end'])
            nested = any(s < block_start < block_end < e for s, e in adjusted.items())
            if block_start > module_start and block_end < line_num and not nested:
                actual -= block_end - block_start
                adjusted[block_start] = block_end
        trace_str = trace_str.replace(f'File "<string>", line {number},', f'File "<{module}>", line {int(actual)},')
    return trace_str


# ------------------------------------------------------------------------------------------------ enums

entryTypes = {'note': 1, 'downloadAgent': 2, 'file': 3, 'error': 4, 'pinned': 5, 'userManagement': 6, 'image': 7,
              'playgroundError': 8, 'entryInfoFile': 9, 'warning': 11, 'map': 15, 'debug': 16, 'widget': 17}
formats = {'html': 'html', 'table': 'table', 'json': 'json', 'text': 'text', 'dbotResponse': 'dbotCommandResponse',
           'markdown': 'markdown'}


class EntryType:
    """War-room entry types."""
    NOTE = 1
    DOWNLOAD_AGENT = 2
    FILE = 3
    ERROR = 4
    PINNED = 5
    USER_MANAGEMENT = 6
    IMAGE = 7
    PLAYGROUND_ERROR = 8
    ENTRY_INFO_FILE = 9
    VIDEO_FILE = 10
    WARNING = 11
    STATIC_VIDEO_FILE = 12
    MAP_ENTRY_TYPE = 15
    WIDGET = 17
    EXECUTION_METRICS = 19


class EntryFormat:
    """War-room entry content formats."""
    HTML = 'html'
    TABLE = 'table'
    JSON = 'json'
    TEXT = 'text'
    DBOT_RESPONSE = 'dbotCommandResponse'
    MARKDOWN = 'markdown'

    @classmethod
    def is_valid_type(cls, _type: Any) -> bool:
        return _type in (cls.HTML, cls.TABLE, cls.JSON, cls.TEXT, cls.MARKDOWN, cls.DBOT_RESPONSE)


class ErrorTypes:
    """Execution-metrics error categories."""
    SUCCESS = 'Successful'
    QUOTA_ERROR = 'QuotaError'
    GENERAL_ERROR = 'GeneralError'
    AUTH_ERROR = 'AuthError'
    SERVICE_ERROR = 'ServiceError'
    CONNECTION_ERROR = 'ConnectionError'
    PROXY_ERROR = 'ProxyError'
    SSL_ERROR = 'SSLError'
    TIMEOUT_ERROR = 'TimeoutError'
    RETRY_ERROR = 'RetryError'


class ParameterTypes:
    """Integration parameter (configuration) types."""
    STRING = 0
    NUMBER = 1
    ENCRYPTED = 4
    BOOLEAN = 8
    AUTH = 9
    DOWNLOAD_LINK = 11
    TEXT_AREA = 12
    INCIDENT_TYPE = 13
    TEXT_AREA_ENCRYPTED = 14
    SINGLE_SELECT = 15
    MULTI_SELECT = 16


class WarningsHandler:
    """Routes Python warnings to the server log for the duration of the run."""

    @staticmethod
    def handle_warning(message: Any, category: Any, filename: str, lineno: int, file: Any = None,
                       line: Any = None) -> None:
        try:
            demisto.info('python warning: ' + warnings.formatwarning(message, category, filename, lineno, line))
        except Exception:
            pass

    def __init__(self) -> None:
        self.org_handler = warnings.showwarning
        warnings.showwarning = WarningsHandler.handle_warning

    def __del__(self) -> None:
        warnings.showwarning = self.org_handler


_warnings_handler = WarningsHandler()
logging.raiseExceptions = False
disable_warnings()


# ------------------------------------------------------------------------------------------------ run metadata

def is_debug_mode() -> bool:
    """Whether the command runs with debug-mode=true."""
    return bool(hasattr(demisto, 'is_debug') and demisto.is_debug)


def get_schedule_metadata(context: dict) -> dict:
    """Metadata of the scheduled entry this run continues, if any."""
    parent_entry = context.get('ParentEntry', {})
    if not parent_entry:
        return {}
    return assign_params(
        is_polling=bool(parent_entry.get('polling')),
        polling_command=parent_entry.get('pollingCommand'),
        polling_args=parent_entry.get('pollingArgs'),
        times_ran=int(parent_entry.get('timesRan', 0)) + 1,
        start_date=parent_entry.get('startDate'),
        end_date=parent_entry.get('endingDate'),
    )


def is_scheduled_command_retry() -> bool:
    """True when this run is a scheduled (polling) follow-up of an earlier run."""
    sm = get_schedule_metadata(context=demisto.callingContext.get('context', {}))
    return bool(sm.get('is_polling', False))


def get_integration_name() -> str:
    return demisto.callingContext.get('context', {}).get('IntegrationBrand', '')


def get_integration_instance_name() -> str:
    return demisto.callingContext.get('context', {}).get('IntegrationInstance', '')


def get_script_name() -> str:
    return demisto.callingContext.get('context', {}).get('ScriptName', '')


# ------------------------------------------------------------------------------------------------ proxy / TLS env

def add_http_prefix_if_missing(address: str = '') -> str:
    """Adds ``http://`` to a proxy address that has no scheme."""
    if not address:
        return ''
    for prefix in ('http://', 'https://', 'socks5://', 'socks5h://', 'socks4://', 'socks4a://'):
        if address.startswith(prefix):
            return address
    return 'http://' + address


def skip_proxy() -> None:
    """Deletes the proxy environment variables (for the rest of the run)."""
    for k in ('HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy'):
        if k in os.environ:
            del os.environ[k]


def ensure_proxy_has_http_prefix() -> None:
    """Adds a scheme to proxy environment variables that lack one."""
    for k in ('HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy'):
        if k in os.environ and os.getenv(k):
            os.environ[k] = add_http_prefix_if_missing(os.environ[k])


def skip_cert_verification() -> None:
    """Deletes the CA-bundle environment variables, which would otherwise override ``verify=False``."""
    for k in ('REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE'):
        if k in os.environ:
            del os.environ[k]


def handle_proxy(proxy_param_name: str = 'proxy', checkbox_default_value: bool = False, handle_insecure: bool = True,
                 insecure_param_name: Optional[str] = None) -> dict:
    """Applies the proxy / insecure checkboxes to the environment; returns a ``proxies`` dict for requests."""
    proxies: dict = {}
    if demisto.params().get(proxy_param_name, checkbox_default_value):
        ensure_proxy_has_http_prefix()
        proxies = {
            'http': os.environ.get('HTTP_PROXY') or os.environ.get('http_proxy', ''),
            'https': os.environ.get('HTTPS_PROXY') or os.environ.get('https_proxy', ''),
        }
    else:
        skip_proxy()
    if handle_insecure:
        param_names = ('insecure', 'unsecure') if insecure_param_name is None else (insecure_param_name,)
        for p in param_names:
            if demisto.params().get(p, False):
                skip_cert_verification()
    return proxies


def urljoin(url: str, suffix: str = '') -> str:
    """Joins a base URL and a suffix with exactly one ``/`` between them."""
    if url[-1:] != '/':
        url = url + '/'
    if suffix.startswith('/'):
        suffix = suffix[1:]
    return url + suffix


# ------------------------------------------------------------------------------------------------ small helpers

def b64_encode(text: Union[str, bytes]) -> str:
    """Base64 of a str (UTF-8) or bytes, as a str; '' for empty input."""
    if not text:
        return ''
    to_encode = text if isinstance(text, bytes) else text.encode('utf-8', 'ignore')
    return base64.b64encode(to_encode).decode('utf-8')


def b64_decode(b64_str: str) -> bytes:
    """Decodes base64, adding missing padding."""
    b64 = b64_str.encode('ascii')
    b64 += b'=' * (-len(b64) % 4)
    return binascii.a2b_base64(b64)


def encode_string_results(text: Any) -> Any:
    if not isinstance(text, STRING_OBJ_TYPES):
        return text
    return str(text)


def stringEscape(st: str) -> str:
    """Escapes CR, LF and TAB as two-character sequences."""
    return st.replace('\r', '\\r').replace('\n', '\\n').replace('\t', '\\t')


def stringUnEscape(st: str) -> str:
    """Turns ``\\r``, ``\\n`` and ``\\t`` sequences back into the characters."""
    return st.replace('\\r', '\r').replace('\\n', '\n').replace('\\t', '\t')


def doubleBackslashes(st: str) -> str:
    return st.replace('\\', '\\\\')


def remove_empty_elements(d: Any) -> Any:
    """Recursively drops None, {} and [] values (but not '') from dicts and lists."""
    def empty(x: Any) -> bool:
        return x is None or x == {} or x == []

    if isinstance(d, list):
        return [v for v in (remove_empty_elements(v) for v in d) if not empty(v)]
    if isinstance(d, dict):
        return {k: v for k, v in ((k, remove_empty_elements(v)) for k, v in d.items()) if not empty(v)}
    return d


class SmartGetDict(dict):
    """A dict whose ``get(key, default)`` also returns the default when the stored value is None."""

    def get(self, key: Any, default: Any = None) -> Any:  # type: ignore[override]
        res = dict.get(self, key)
        return res if res is not None else default


if not os.getenv('COMMON_SERVER_NO_AUTO_PARAMS_REMOVE_NULLS') and hasattr(demisto, 'params') and demisto.params():
    demisto.callingContext['params'] = SmartGetDict(demisto.params())


# ------------------------------------------------------------------------------------------------ logging / masking

class IntegrationLogger:
    """Logger that replaces registered secrets with ``<XX_REPLACED>``.

    On creation it registers every string parameter whose name contains key, private, password, secret, token,
    credentials or service_account (and, for credential dicts, base64 of ``identifier:password``).
    Call it (``LOG(msg)``) to buffer a masked message; ``print_log()`` writes the buffer to the server log.
    """

    def __init__(self, debug_logging: bool = False) -> None:
        self.messages: list[str] = []
        self.write_buf: list[str] = []
        self.replace_strs: list[str] = []
        self.curl: list[str] = []
        self.buffering = True
        self.debug_logging = debug_logging
        if not os.getenv('COMMON_SERVER_NO_AUTO_REPLACE_STRS') and hasattr(demisto, 'getParam'):
            sensitive_params = ('key', 'private', 'password', 'secret', 'token', 'credentials', 'service_account')
            if demisto.params():
                self._iter_sensistive_dict_obj(demisto.params(), sensitive_params)

    def _iter_sensistive_dict_obj(self, dict_obj: dict, sensitive_params: tuple[str, ...]) -> None:
        for k, v in dict_obj.items():
            if isinstance(v, dict):
                self._iter_sensistive_dict_obj(v, sensitive_params)
                if v.get('identifier') and v.get('password'):
                    self.add_replace_strs(b64_encode('{}:{}'.format(v.get('identifier'), v.get('password'))))
            elif isinstance(v, STRING_OBJ_TYPES):
                k_lower = k.lower()
                for p in sensitive_params:
                    if p in k_lower:
                        self.add_replace_strs(v, b64_encode(v))

    def encode(self, message: Any) -> str:
        """``str(message)`` with every registered secret replaced by the mask."""
        try:
            res = str(message)
        except UnicodeEncodeError as exception:
            res = f'Failed encoding message with error: {exception}'
        for s in self.replace_strs:
            res = res.replace(s, MASK)
        return res

    def __call__(self, message: Any) -> str:
        text = self.encode(message)
        if self.buffering:
            self.messages.append(text)
            if self.debug_logging:
                demisto.debug(text)
        else:
            demisto.info(text)
        return text

    def add_replace_strs(self, *args: Any) -> None:
        """Registers secrets, each also escaped, JSON-escaped and URL-quoted."""
        to_add = []
        for a in args:
            if a:
                a = self.encode(a)
                to_add.append(stringEscape(a))
                to_add.append(stringUnEscape(a))
                to_add.append(doubleBackslashes(a))
                js = json.dumps(a)
                if js.startswith('"'):
                    js = js[1:]
                if js.endswith('"'):
                    js = js[:-1]
                to_add.append(js)
                to_add.append(urllib.parse.quote_plus(a))
        self.replace_strs.extend(to_add)

    def set_buffering(self, state: bool) -> None:
        self.buffering = state

    def print_log(self, verbose: bool = False) -> None:
        if self.write_buf:
            self.messages.append(''.join(self.write_buf))
        if self.messages:
            text = 'Full Integration Log:\n' + '\n'.join(self.messages)
            if verbose:
                demisto.log(text)
            if not self.debug_logging:  # in debug logging every message was already sent
                demisto.info(text)
            self.messages = []

    def write(self, msg: str) -> None:
        """File-like interface: buffers until a newline, then logs the (masked, censored) line."""
        msg = self.encode(msg)
        has_newline = '\n' in msg
        if msg.endswith('\n'):
            msg = msg[:-1]
        self.write_buf.append(msg)
        if not has_newline:
            return
        text = ''.join(self.write_buf)
        if self.buffering:
            self.messages.append(text)
        else:
            if is_debug_mode() and text.startswith(('send:', 'header:')):
                try:
                    text = censor_request_logs(text.replace('send: b"', "send: b'"))
                except Exception as e:
                    demisto.debug(f'Failed censoring request logs - {e}')
            demisto.info(text)
        self.write_buf = []

    def print_override(self, *args: Any, **kwargs: Any) -> None:
        """A ``print`` replacement that sends stdout/stderr output to this logger."""
        import builtins
        file_ = kwargs.get('file')
        if not file_ or file_ in (sys.stdout, sys.stderr):
            kwargs['file'] = self
        builtins.print(*args, **kwargs)


LOG = IntegrationLogger(debug_logging=is_debug_mode())


def censor_request_logs(request_log: str) -> str:
    """Masks the word after Authorization/Cookie/Token/username/password/apiKey in http.client wire logs."""
    keywords = [w.lower() for w in ('Authorization:', 'Cookie', 'Token', 'username', 'password', 'apiKey')]
    words = request_log.lstrip(SEND_PREFIX).replace('\\r\\n', ' \\r\\n').split()
    for i, word in enumerate(words):
        if any(keyword in word.lower() for keyword in keywords) and i + 1 < len(words):
            if words[i + 1].lower() in ('bearer', 'basic') and i + 2 < len(words):
                words[i + 2] = MASK
            elif words[i + 1].endswith("}'"):
                words[i + 1] = f'"{MASK}"}}\''
            else:
                words[i + 1] = MASK
    censored = (SEND_PREFIX if request_log.startswith(SEND_PREFIX) else '') + ' '.join(words)
    return censored.replace(' \\r\\n', '\\r\\n')


class DemistoHandler(logging.Handler):
    """Routes Python logging records to an IntegrationLogger (or demisto.debug)."""

    def __init__(self, int_logger: Optional[IntegrationLogger] = None) -> None:
        logging.Handler.__init__(self)
        self.int_logger = int_logger

    def emit(self, record: logging.LogRecord) -> None:
        msg = self.format(record)
        try:
            if self.int_logger:
                self.int_logger(msg)
            else:
                demisto.debug(msg)
        except Exception:
            pass


class DebugLogger:
    """In debug mode: http.client wire logging and Python logging, through a masking logger, to the server log."""

    def __init__(self) -> None:
        import http.client as http_client
        self.handler: Optional[DemistoHandler] = None
        self.int_logger = IntegrationLogger()
        self.int_logger.set_buffering(False)
        self.http_client = http_client
        self.http_client.HTTPConnection.debuglevel = 1
        self.http_client_print = getattr(http_client, 'print', None)
        setattr(http_client, 'print', self.int_logger.print_override)  # noqa: B010
        self.handler = DemistoHandler(self.int_logger)
        self.handler.setFormatter(logging.Formatter(fmt='python logging: %(levelname)s [%(name)s] - %(message)s'))
        self.root_logger = logging.getLogger()
        self.prev_log_level = self.root_logger.getEffectiveLevel()
        self.root_logger.setLevel(logging.DEBUG)
        self.org_handlers = list(self.root_logger.handlers)
        for h in self.org_handlers:
            self.root_logger.removeHandler(h)
        self.root_logger.addHandler(self.handler)

    def __del__(self) -> None:
        if self.handler:
            self.root_logger.setLevel(self.prev_log_level)
            self.root_logger.removeHandler(self.handler)
            self.handler.flush()
            self.handler.close()
        for h in self.org_handlers:
            self.root_logger.addHandler(h)
        self.http_client.HTTPConnection.debuglevel = 0
        if self.http_client_print:
            setattr(self.http_client, 'print', self.http_client_print)  # noqa: B010
        elif hasattr(self.http_client, 'print'):
            delattr(self.http_client, 'print')

    def log_start_debug(self) -> None:
        msg = f'debug-mode started.\n#### http client print found: {self.http_client_print is not None}.\n' \
              f'#### Env {os.environ}.'
        if hasattr(demisto, 'params'):
            msg += f'\n#### Params: {json.dumps(demisto.params(), indent=2)}.'
        calling_context = demisto.callingContext.get('context', {})
        msg += '\n#### Docker image: [{}]'.format(calling_context.get('DockerImage'))
        brand = calling_context.get('IntegrationBrand')
        if brand:
            msg += '\n#### Integration: brand: [{}] instance: [{}]'.format(
                brand, calling_context.get('IntegrationInstance'))
        self.int_logger.write(msg + '\n')


_requests_logger: Optional[DebugLogger] = None
try:
    if is_debug_mode():
        _requests_logger = DebugLogger()
        _requests_logger.log_start_debug()
except Exception as ex:
    demisto.info(f'Failed initializing DebugLogger: {ex}')


def add_sensitive_log_strs(sensitive_str: str) -> None:
    """Registers a runtime secret (token, password argument, ...) with every masking logger."""
    if _requests_logger:
        _requests_logger.int_logger.add_replace_strs(sensitive_str)
    LOG.add_replace_strs(sensitive_str)


# ------------------------------------------------------------------------------------------------ markdown tables

MARKDOWN_CHARS = r"\`*_{}[]()#+-!|"


def stringEscapeMD(st: str, minimal_escaping: bool = False, escape_multiline: bool = False) -> str:
    """Escapes markdown characters (with minimal_escaping only ``|`` and backtick); line breaks become <br>."""
    if escape_multiline:
        st = st.replace('\r\n', '<br>').replace('\r', '<br>').replace('\n', '<br>')
    if minimal_escaping:
        for c in ('|', '`'):
            st = st.replace(c, '\\' + c)
        return st
    return ''.join('\\' + str(c) if c in MARKDOWN_CHARS else str(c) for c in st)


def flattenCell(data: Any, is_pretty: bool = True) -> Any:
    """A cell value as text: strings as is, lists joined with ',\\n', anything else as JSON."""
    if isinstance(data, STRING_TYPES):
        return data
    if isinstance(data, list):
        return ',\n'.join(d.decode('utf-8') if isinstance(d, bytes) else str(d) for d in data)
    return json.dumps(data, indent=4 if is_pretty else None, ensure_ascii=False, default=str)


class JsonTransformer:
    """How a complex cell value is written: flattened (``key: value`` lines) or as nested bold paths."""

    def __init__(self, flatten: bool = False, keys: Any = None, is_nested: bool = False,
                 func: Optional[Callable] = None) -> None:
        self.keys = set(keys or [])
        self.is_nested = is_nested
        self.func = func
        self.flatten = flatten

    def json_to_str(self, json_input: Any, is_pretty: bool = True) -> Any:
        if self.func:
            return self.func(json_input)
        if isinstance(json_input, STRING_TYPES):
            return json_input
        if self.flatten:
            if not isinstance(json_input, dict):
                return flattenCell(json_input, is_pretty)
            return '\n'.join(f'{k}: {flattenCell(v, is_pretty)}' for k, v in json_input.items())
        lines = []
        prev_path: list = []
        for path, key, val in self.json_to_path_generator(json_input):
            str_path = ''
            full_tabs = '\t' * len(path)
            if path != prev_path:
                common = len(os.path.commonprefix((prev_path, path)))
                parts = []
                for i, p in enumerate(path[common:]):
                    is_list = isinstance(p, int)
                    parts.append('{}**{}**{}'.format((common + i) * '\t', '-' if is_list else p,
                                                     '' if is_list else ':\n'))
                str_path = ''.join(parts)
                prev_path = path
                if path and isinstance(path[-1], int):
                    full_tabs = '\t'
            lines.append(f'{str_path}{full_tabs}***{key}***: {flattenCell(val, is_pretty)}')
        return '\n'.join(lines)

    def json_to_path_generator(self, json_input: Any, path: Optional[list] = None) -> Any:
        path = path or []
        is_in_path = not self.keys or any(p for p in path if p in self.keys)
        if isinstance(json_input, dict):
            for k, v in json_input.items():
                if is_in_path or k in self.keys:
                    if not isinstance(v, (dict, list)):
                        yield path, k, v
                    else:
                        yield from self.json_to_path_generator(v, path + [k])
                elif self.is_nested:
                    yield from self.json_to_path_generator(v, path + [k])
        if isinstance(json_input, list):
            if not json_input or not isinstance(json_input[0], (list, dict)):
                yield path, 'values', ', '.join(json_input)
            else:
                for i, item in enumerate(json_input):
                    yield from self.json_to_path_generator(item, path + [i])


def formatCell(data: Any, is_pretty: bool = True, json_transform: Optional[JsonTransformer] = None) -> Any:
    """One markdown-table cell value as text."""
    if json_transform is None:
        json_transform = JsonTransformer(flatten=True)
    return json_transform.json_to_str(data, is_pretty)


def create_clickable_url(url: Any, text: Any = None) -> Any:
    """``[text](url)`` (or a list of them)."""
    if not url:
        return None
    if isinstance(url, list):
        if isinstance(text, list):
            assert len(url) == len(text), 'The URL list and the text list must be the same length.'
            return [f'[{t}]({u})' for t, u in zip(text, url, strict=True)]
        return [f'[{u}]({u})' for u in url]
    return f'[{text or url}]({url})'


def url_to_clickable_markdown(data: Any, url_keys: list) -> Any:
    """Makes the values of ``url_keys`` (at any depth) clickable markdown links."""
    if isinstance(data, list):
        return [url_to_clickable_markdown(item, url_keys) for item in data]
    if isinstance(data, dict):
        return {k: create_clickable_url(v) if k in url_keys else url_to_clickable_markdown(v, url_keys)
                for k, v in data.items()}
    return data


def tableToMarkdown(name: str, t: Any, headers: Any = None, headerTransform: Optional[Callable] = None,
                    removeNull: bool = False, metadata: Optional[str] = None, url_keys: Optional[list] = None,
                    date_fields: Optional[list] = None, json_transform_mapping: Optional[dict] = None,
                    is_auto_json_transform: bool = False, sort_headers: bool = True) -> str:
    """Renders a dict or a list of dicts as a markdown table (``### name`` first when a name is given).

    Default headers are the keys of the first row, sorted unless ``sort_headers=False``; ``removeNull`` drops
    columns that are empty in every row; an empty table gives ``**No entries.**``.
    """
    if url_keys:
        t = url_to_clickable_markdown(t, url_keys)
    md = ''
    if name:
        md = '### ' + name + '\n'
    if metadata:
        md += metadata + '\n'
    if not t or len(t) == 0:
        return md + '**No entries.**\n'
    if not headers and isinstance(t, dict) and len(t.keys()) == 1:
        # a single key: one column whose rows are the key's values
        headers = list(t.keys())
        t = list(t.values())[0]
    if not isinstance(t, list):
        t = [t]
    if headers and isinstance(headers, STRING_TYPES):
        headers = [headers]
    if not isinstance(t[0], dict):
        if not headers:
            raise Exception("Missing headers param for tableToMarkdown. Example: headers=['Some Header']")
        t = [{headers[0]: item} for item in t]
    if not headers:
        headers = list(t[0].keys())
        if sort_headers:
            headers.sort()
    if removeNull:
        headers = [h for h in headers if not all(row.get(h) in ('', None, [], {}) for row in t)]
    if not json_transform_mapping:
        json_transform_mapping = {h: JsonTransformer(flatten=not is_auto_json_transform) for h in headers}
    if not (t and len(headers) > 0):
        return md + '**No entries.**\n'
    transform = headerTransform or (lambda s: stringEscapeMD(s, True, True))
    md += '|' + '|'.join(transform(h) for h in headers) + '|\n'
    md += '|' + '|'.join(['---'] * len(headers)) + '|\n'
    for entry in t:
        row = entry.copy()
        for field in date_fields or []:
            try:
                row[field] = datetime.fromtimestamp(int(row[field]) / 1000).strftime('%Y-%m-%d %H:%M:%S')
            except Exception:
                pass
        vals = [stringEscapeMD(formatCell(row.get(h, ''), False, json_transform_mapping.get(h))
                               if row.get(h) is not None else '', True, True) for h in headers]
        md += '| ' + ' | '.join(vals) + ' |\n'
    return md


tblToMd = tableToMarkdown


def createContextSingle(obj: dict, id: Any = None, keyTransform: Optional[Callable] = None,
                        removeNull: bool = False) -> dict:
    res: dict = {}
    transform = keyTransform or (lambda s: s)
    for key in obj.keys():
        if removeNull and obj[key] in ('', None, [], {}):
            continue
        parts = key.split('.')
        current = res
        for part in parts[:-1]:
            current = current.setdefault(part, {})
        current[transform(parts[-1])] = obj[key]
    if id is not None:
        res.setdefault('ID', id)
    return res


def createContext(data: Any, id: Any = None, keyTransform: Optional[Callable] = None, removeNull: bool = False) -> Any:
    """Turns dicts with dotted keys (``'A.B': 1``) into nested dicts (``{'A': {'B': 1}}``)."""
    if isinstance(data, (list, tuple)):
        return [createContextSingle(d, id, keyTransform, removeNull) for d in data]
    return createContextSingle(data, id, keyTransform, removeNull)


# ------------------------------------------------------------------------------------------------ string transforms

pascalRegex = re.compile('([A-Z]?[a-z]+)')


def pascalToSpace(s: Any) -> Any:
    """``ThreatScore`` -> ``Threat Score``, ``thisIsIPAddress`` -> ``This Is IP Address``."""
    if not isinstance(s, STRING_OBJ_TYPES):
        return s
    s = re.sub(pascalRegex, lambda match: f' {match.group(1).title()} ', s)
    return ' '.join(s.split())


def underscoreToCamelCase(s: Any, upper_camel: bool = True) -> Any:
    """``hello_world`` -> ``HelloWorld`` (or ``helloWorld``)."""
    if not isinstance(s, STRING_OBJ_TYPES):
        return s
    components = s.split('_')
    rest = ''.join(x.title() for x in components[1:])
    return (components[0].title() if upper_camel else components[0].lower()) + rest


def camelize_string(src_str: str, delim: str = '_', upper_camel: bool = True) -> str:
    """``snake_case`` -> ``SnakeCase`` (or ``snakeCase``)."""
    if not src_str:
        return ''
    components = src_str.split(delim)
    rest = ''.join(x.title() for x in components[1:])
    return (components[0].title() if upper_camel else components[0].lower()) + rest


def camelize(src: Any, delim: str = ' ', upper_camel: bool = True) -> Any:
    """CamelCases the top-level keys of a dict (or of each dict in a list)."""
    if isinstance(src, list):
        return [camelize(phrase, delim, upper_camel=upper_camel) for phrase in src]
    return {camelize_string(key.decode('utf-8') if isinstance(key, bytes) else key, delim, upper_camel): value
            for key, value in src.items()}


def string_to_table_header(string: Any) -> str:
    """``one_two`` -> ``One Two``."""
    if isinstance(string, STRING_OBJ_TYPES):
        return ' '.join(word.capitalize() for word in string.replace('_', ' ').split())
    raise Exception(f'The key is not a string: {string}')


def string_to_context_key(string: Any) -> str:
    """``one_two`` -> ``OneTwo``."""
    if isinstance(string, STRING_OBJ_TYPES):
        return ''.join(word.capitalize() for word in string.split('_'))
    raise Exception(f'The key is not a string: {string}')


# ------------------------------------------------------------------------------------------------ argument parsing

def argToList(arg: Any, separator: str = ',', transform: Optional[Callable] = None) -> list:
    """A list from a list, a JSON array string, or a separated string (items stripped); [] for empty input."""
    if not arg:
        return []
    result: Any = []
    if isinstance(arg, list):
        result = arg
    elif isinstance(arg, STRING_TYPES):
        is_comma_separated = True
        if arg[0] == '[' and arg[-1] == ']':
            try:
                result = json.loads(arg)
                is_comma_separated = False
            except Exception:
                demisto.debug(f'Failed to load {arg!s} as JSON, trying to split')
        if is_comma_separated:
            result = [s.strip() for s in arg.split(separator)]  # type: ignore[arg-type]
    else:
        result = [arg]
    return [transform(s) for s in result] if transform else result


def argToBoolean(value: Any) -> bool:
    """True for a True bool or 'true'/'yes' in any case; False for 'false'/'no'; ValueError otherwise."""
    if isinstance(value, bool):
        return value
    if isinstance(value, STRING_OBJ_TYPES):
        if value.lower() in ['true', 'yes']:
            return True
        if value.lower() in ['false', 'no']:
            return False
        raise ValueError('Argument does not contain a valid boolean-like value')
    raise ValueError('Argument is neither a string nor a boolean')


def arg_to_number(arg: Any, arg_name: Optional[str] = None, required: bool = False) -> Optional[int]:
    """An int from an int or a numeric string (``'3.7'`` -> 3); None for None/''; ValueError otherwise."""
    if arg is None or arg == '':
        if required is True:
            raise ValueError(f'Missing "{arg_name}"' if arg_name else 'Missing required argument')
        return None
    arg = encode_string_results(arg)
    if isinstance(arg, str):
        if arg.isdigit():
            return int(arg)
        try:
            return int(float(arg))
        except Exception:
            pass
    elif isinstance(arg, int):
        return arg
    raise ValueError(f'Invalid number: "{arg_name}"="{arg}"' if arg_name else f'"{arg}" is not a valid number')


_DATE_UNITS = {'second': 'seconds', 'minute': 'minutes', 'hour': 'hours', 'day': 'days', 'week': 'weeks'}
_RELATIVE_DATE = re.compile(r'^(?:(in)\s+)?(\d+)\s*(second|sec|minute|min|hour|day|week|month|year)s?(\s+ago)?$')


def _add_months(moment: datetime, months: int) -> datetime:
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    for day in range(moment.day, 0, -1):
        try:
            return moment.replace(year=year, month=month, day=day)
        except ValueError:
            continue
    return moment


def _parse_date_text(text: str, settings: Optional[dict]) -> Optional[datetime]:
    """The subset of dateparser this stand-in understands (see arg_to_datetime)."""
    text = text.strip()
    now = datetime.now(UTC).replace(tzinfo=None)
    lowered = text.lower()
    parsed: Optional[datetime] = None
    if lowered in ('now', 'today'):
        parsed = now
    elif lowered == 'yesterday':
        parsed = now - timedelta(days=1)
    elif match := _RELATIVE_DATE.match(lowered):
        sign = 1 if match.group(1) and not match.group(4) else -1
        amount, unit = int(match.group(2)) * sign, {'sec': 'second', 'min': 'minute'}.get(match.group(3),
                                                                                           match.group(3))
        if unit in ('month', 'year'):
            parsed = _add_months(now, amount * (12 if unit == 'year' else 1))
        else:
            parsed = now + timedelta(**{_DATE_UNITS[unit]: amount})
    else:
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            return None
    if parsed.tzinfo is None and (settings or {}).get('RETURN_AS_TIMEZONE_AWARE') is True:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def arg_to_datetime(arg: Any, arg_name: Optional[str] = None, is_utc: bool = True, required: bool = False,
                    settings: Optional[dict] = None) -> Optional[datetime]:
    """A datetime from an XSOAR argument.

    Numbers (and digit strings) are epoch seconds, or milliseconds when above 2e9; with ``is_utc`` the result is
    UTC-aware, else naive local time. Strings: the real function uses dateparser; this stand-in understands ISO 8601
    (``datetime.fromisoformat``: aware when the text has an offset or ``Z``, naive otherwise), ``now``, ``today``,
    ``yesterday``, ``N <unit>`` and ``N <unit> ago`` (past), ``in N <unit>`` (future) with units second, minute,
    hour, day, week, month, year (relative results are naive UTC, like dateparser with ``TIMEZONE: UTC``).
    """
    if arg is None:
        if required is True:
            raise ValueError(f'Missing "{arg_name}"' if arg_name else 'Missing required argument')
        return None
    if isinstance(arg, str) and arg.isdigit() or isinstance(arg, (int, float)):
        seconds = float(arg)
        if seconds > 2000000000.0:
            seconds = seconds / 1000.0
        if is_utc:
            return datetime.fromtimestamp(seconds, tz=UTC)
        return datetime.fromtimestamp(seconds)
    if isinstance(arg, str):
        date = _parse_date_text(arg, settings)
        if date is not None:
            return date
    raise ValueError(f'Invalid date: "{arg_name}"="{arg}"' if arg_name else f'"{arg}" is not a valid date')


# ------------------------------------------------------------------------------------------------ dict helpers

def assign_params(keys_to_ignore: Any = None, values_to_ignore: Any = None, **kwargs: Any) -> dict:
    """The keyword arguments whose value is not None, '', [], {} or () (0 and False are kept)."""
    if values_to_ignore is None:
        values_to_ignore = (None, '', [], {}, ())
    if keys_to_ignore is None:
        keys_to_ignore = tuple()
    return {key: value for key, value in kwargs.items() if value not in values_to_ignore and key not in keys_to_ignore}


def remove_nulls_from_dictionary(data: dict) -> None:
    """Deletes, in place and at the top level only, keys whose value is '', None, [], {} or ()."""
    for key in list(data.keys()):
        if data[key] in ('', None, [], {}, ()):
            del data[key]


def dict_safe_get(dict_object: Any, keys: list, default_return_value: Any = None, return_type: Any = None,
                  raise_return_type: bool = True) -> Any:
    """Follows ``keys`` through nested dicts/lists; ``default_return_value`` when a step is missing."""
    value = dict_object
    for key in keys:
        try:
            value = value[key]
        except (KeyError, TypeError, IndexError, AttributeError):
            value = default_return_value
            break
    if return_type and not isinstance(value, return_type):
        if raise_return_type:
            raise TypeError(f'Safe get Error:\nDetails: Return Type Error Excepted return type {return_type}, but '
                            f'actual type from nested dict/list is {type(value)} with value {value}.\n'
                            f'Query: {keys}\nQueried object: {dict_object}')
        value = default_return_value
    return value


# ------------------------------------------------------------------------------------------------ server version

class GetDemistoVersion:
    """``get_demisto_version()``: the server version, asked once per run and remembered."""

    def __init__(self) -> None:
        self._version: Optional[dict] = None

    def __call__(self) -> dict:
        if self._version is None:
            if not hasattr(demisto, 'demistoVersion'):
                raise AttributeError('demistoVersion attribute not found.')
            self._version = demisto.demistoVersion()
        return self._version


get_demisto_version = GetDemistoVersion()


def get_demisto_version_as_str() -> str:
    """``<version>-<build>``, or ``Unknown``."""
    try:
        ver = get_demisto_version()
        return '{}-{}'.format(ver.get('version', 'Unknown'), ver.get('buildNumber', 'Unknown'))
    except AttributeError:
        return 'Unknown'


def is_demisto_version_ge(version: str, build_number: str = '') -> bool:
    """Whether the server is at least ``version`` (and ``build_number`` when given)."""
    def zfill(v: str) -> tuple[str, ...]:
        return tuple(part.zfill(8) for part in v.split('.'))

    server_version: dict = {}
    try:
        server_version = get_demisto_version()
        server, wanted = zfill(server_version.get('version', '')), zfill(version)
        if server > wanted:
            return True
        if server == wanted:
            return int(server_version.get('buildNumber', 0)) >= int(build_number) if build_number else True
        return False
    except AttributeError:
        if version >= '5.0.0':
            return False
        raise
    except ValueError:
        demisto.log(f'is_demisto_version_ge: ValueError. \n input: server version: {version} build number: '
                    f'{build_number}\nserver version: {server_version}')
        return True


def get_x_content_info_headers() -> dict:
    """``X-Content-*`` headers for outgoing requests to Palo Alto services (e.g. the oproxy)."""
    calling_context = demisto.callingContext.get('context', {})
    brand_name = calling_context.get('IntegrationBrand', '')
    instance_name = calling_context.get('IntegrationInstance', '')
    return {
        'X-Content-Version': CONTENT_RELEASE_VERSION,
        'X-Content-Name': brand_name or instance_name or 'Name not found',
        'X-Content-LicenseID': demisto.getLicenseID(),
        'X-Content-Branch': CONTENT_BRANCH_NAME,
        'X-Content-Server-Version': get_demisto_version_as_str(),
    }


# ------------------------------------------------------------------------------------------------ exceptions

class DemistoException(Exception):
    """An error with a user-facing message; ``res`` is the requests Response when raised by BaseClient."""

    def __init__(self, message: Any, exception: Optional[BaseException] = None, res: Any = None,
                 error_type: Any = None, *args: Any) -> None:
        self.res = res
        self.message = message
        self.exception = exception
        self.error_type = error_type
        super().__init__(message, exception, error_type, *args)

    def __str__(self) -> str:
        return str(self.message)


# ------------------------------------------------------------------------------------------------ results

class ScheduledCommand:
    """Asks the server to run ``command`` again after ``next_run_in_seconds`` (at least 10)."""
    VERSION_MISMATCH_ERROR = 'This command is not supported by this XSOAR server version. Please update your server ' \
                             'version to 6.2.0 or later.'

    def __init__(self, command: str, next_run_in_seconds: int, args: Optional[dict] = None,
                 timeout_in_seconds: Optional[int] = None, items_remaining: Optional[int] = 0) -> None:
        self.raise_error_if_not_supported()
        self._command = command
        if next_run_in_seconds < 10:
            demisto.info(f'ScheduledCommandConfiguration provided value for next_run_in_seconds: '
                         f'{next_run_in_seconds} is too low - minimum interval is 10 seconds. '
                         'next_run_in_seconds was set to 10 seconds.')
            next_run_in_seconds = 10
        self._next_run = str(next_run_in_seconds)
        self._args = args
        self._timeout = str(timeout_in_seconds) if timeout_in_seconds else None
        self._items_remaining = items_remaining

    @staticmethod
    def raise_error_if_not_supported() -> bool:
        return True

    @staticmethod
    def supports_polling() -> bool:
        return True

    def to_results(self) -> dict:
        return assign_params(PollingCommand=self._command, NextRun=self._next_run, PollingArgs=self._args,
                             Timeout=self._timeout, PollingItemsRemaining=self._items_remaining)


class CommandResults:
    """One war-room entry: readable output, context outputs and the raw response.

    ``to_context()`` builds the entry. EntryContext keys: ``<prefix>(val.K && val.K == obj.K)`` with a key field
    (several joined by `` && ``), ``<prefix>`` without one, the dict's own keys without a prefix, and
    ``<parent>(true): {<last>: outputs}`` with ``replace_existing``.
    """

    def __init__(self, outputs_prefix: Optional[str] = None, outputs_key_field: Any = None, outputs: Any = None,
                 indicators: Optional[list] = None, readable_output: Optional[str] = None, raw_response: Any = None,
                 indicators_timeline: Any = None, indicator: Any = None, ignore_auto_extract: bool = False,
                 mark_as_note: bool = False, tags: Optional[list] = None,
                 scheduled_command: Optional[ScheduledCommand] = None, relationships: Optional[list] = None,
                 entry_type: Optional[int] = None, content_format: Optional[str] = None,
                 execution_metrics: Optional[list] = None, replace_existing: bool = False) -> None:
        if raw_response is None:
            raw_response = outputs
        if outputs is not None:
            if not isinstance(outputs, dict) and not outputs_prefix:
                raise ValueError('outputs_prefix is missing')
            if outputs_prefix == '.':
                raise ValueError('outputs_prefix cannot be a period.')
        if indicators and indicator:
            raise ValueError('indicators is DEPRECATED, use only indicator')
        self.indicators = indicators
        self.indicator = indicator
        self.entry_type: int = EntryType.NOTE if entry_type is None else entry_type
        self.outputs_prefix = outputs_prefix
        self.outputs_key_field = outputs_key_field
        self._outputs_key_field: Optional[list] = None
        if not outputs_key_field:
            self._outputs_key_field = None
        elif isinstance(outputs_key_field, STRING_TYPES):
            self._outputs_key_field = [outputs_key_field]
        elif isinstance(outputs_key_field, list):
            self._outputs_key_field = outputs_key_field
        else:
            raise TypeError('outputs_key_field must be of type str or list')
        self.outputs = outputs
        self.raw_response = raw_response
        self.readable_output = readable_output
        self.indicators_timeline = indicators_timeline
        self.ignore_auto_extract = ignore_auto_extract
        self.mark_as_note = mark_as_note
        self.tags = tags
        self.scheduled_command = scheduled_command
        self.relationships = relationships
        self.execution_metrics = execution_metrics
        self.replace_existing = replace_existing
        if content_format is not None and not EntryFormat.is_valid_type(content_format):
            raise TypeError(f'content_format {content_format} is invalid, see CommonServerPython.EntryFormat')
        self.content_format = content_format

    def to_context(self) -> dict:
        outputs: dict = {}
        human_readable: Any = self.readable_output or None
        raw_response = self.raw_response
        for indicator in ([self.indicator] if self.indicator else self.indicators) or []:
            for key, value in indicator.to_context().items():
                outputs.setdefault(key, []).append(value)
        if self.outputs is not None and self.outputs != []:
            if not self.readable_output:
                human_readable = tableToMarkdown('Results', self.outputs) \
                    if isinstance(self.outputs, (dict, list)) else self.outputs
            if self.outputs_prefix and self.replace_existing:
                parent, _, last = self.outputs_prefix.rpartition('.')
                if not parent:
                    raise DemistoException('outputs_prefix must be a nested path to replace an existing key.')
                outputs[parent + '(true)'] = {last: self.outputs}
            elif self.outputs_prefix and self._outputs_key_field:
                selector = ' && '.join(f'val.{k} && val.{k} == obj.{k}' for k in self._outputs_key_field)
                outputs[f'{self.outputs_prefix}({selector})'] = self.outputs
            elif self.outputs_prefix:
                outputs[str(self.outputs_prefix)] = self.outputs
            else:
                outputs.update(self.outputs)
        relationships = [r.to_entry() for r in self.relationships or [] if r.to_entry()]
        content_format = self.content_format
        if content_format is None:
            content_format = EntryFormat.TEXT if isinstance(raw_response, STRING_TYPES + (int,)) else EntryFormat.JSON
        exec_metrics = None
        if self.execution_metrics:
            exec_metrics = self.execution_metrics
            self.entry_type = EntryType.EXECUTION_METRICS
            raw_response = 'Metrics reported successfully.'
            content_format = EntryFormat.TEXT
        entry = {
            'Type': self.entry_type,
            'ContentsFormat': content_format,
            'Contents': raw_response,
            'HumanReadable': human_readable,
            'EntryContext': outputs,
            'IndicatorTimeline': self.indicators_timeline.indicators_timeline if self.indicators_timeline else [],
            'IgnoreAutoExtract': bool(self.ignore_auto_extract),
            'Note': bool(self.mark_as_note),
            'Relationships': relationships,
        }
        if self.tags:
            entry['Tags'] = self.tags
        if self.scheduled_command:
            entry.update(self.scheduled_command.to_results())
        if exec_metrics:
            entry['APIExecutionMetrics'] = exec_metrics
        return entry


def is_integration_command_execution() -> bool:
    """True when running as an integration command (not as a script)."""
    try:
        return demisto.callingContext['context']['ExecutedCommands'][0]['moduleBrand'] != 'Scripts'
    except (KeyError, IndexError, TypeError):
        try:
            return demisto.callingContext['context']['ScriptName'] == ''
        except (KeyError, IndexError, TypeError):
            return True


EXECUTION_METRICS_SCRIPT_SKIP_MSG = "returning results with Type=EntryType.EXECUTION_METRICS isn't fully supported " \
                                    "for scripts. dropping result."


def return_results(results: Any) -> None:
    """Sends results to the war room: None, a CommandResults, an object with ``to_entry()``, a raw entry dict or
    a string, or a list of these (dicts and strings in a list go out in one ``demisto.results`` call)."""
    is_integration = is_integration_command_execution()
    if results is None:
        demisto.results(None)
    elif results and isinstance(results, list):
        result_list: list = []
        for result in results:
            if isinstance(result, dict):
                if is_integration or result.get('Type') != EntryType.EXECUTION_METRICS:
                    result_list.append(result)
                else:
                    demisto.debug(EXECUTION_METRICS_SCRIPT_SKIP_MSG)
            elif isinstance(result, str):
                result_list.append(result)
            else:
                return_results(result)
        if result_list:
            demisto.results(result_list)
    elif isinstance(results, CommandResults):
        context = results.to_context()
        if is_integration or context.get('Type') != EntryType.EXECUTION_METRICS:
            demisto.results(context)
        else:
            demisto.debug(EXECUTION_METRICS_SCRIPT_SKIP_MSG)
    elif hasattr(results, 'to_entry'):
        entry = results.to_entry()
        if is_integration or entry.get('Type') != EntryType.EXECUTION_METRICS:
            demisto.results(entry)
        else:
            demisto.debug(EXECUTION_METRICS_SCRIPT_SKIP_MSG)
    elif not is_integration and isinstance(results, dict) and results.get('Type') == EntryType.EXECUTION_METRICS:
        demisto.debug(EXECUTION_METRICS_SCRIPT_SKIP_MSG)
    else:
        demisto.results(results)


def return_outputs(readable_output: Any, outputs: Any = None, raw_response: Any = None, timeline: Any = None,
                   ignore_auto_extract: bool = False) -> None:
    """DEPRECATED: use return_results(CommandResults(...))."""
    timeline_list = [timeline] if isinstance(timeline, dict) else timeline
    for tl_obj in timeline_list or []:
        tl_obj.setdefault('Category', 'Integration Update')
    entry = {
        'Type': entryTypes['note'],
        'HumanReadable': readable_output,
        'ContentsFormat': formats['text'] if isinstance(raw_response, STRING_TYPES) else formats['json'],
        'Contents': raw_response,
        'EntryContext': outputs,
        'IgnoreAutoExtract': ignore_auto_extract,
        'IndicatorTimeline': timeline_list,
    }
    if readable_output and not outputs and not raw_response:
        entry['Contents'] = readable_output
        entry['ContentsFormat'] = formats['text']
    elif outputs and raw_response is None:
        entry['Contents'] = outputs
    demisto.results(entry)


def return_error(message: Any, error: Any = '', outputs: Optional[dict] = None) -> None:
    """Logs (masked), emits an error entry (Type 4) with the masked message and ends the run with sys.exit(0).

    For fetch-incidents, fetch-credentials, long-running-execution and fetch-indicators it raises instead.
    """
    is_command = hasattr(demisto, 'command')
    try:
        is_server_handled = is_command and demisto.command() in (
            'fetch-incidents', 'fetch-credentials', 'long-running-execution', 'fetch-indicators')
    except Exception:
        is_server_handled = False
    message = LOG(message)
    if error:
        LOG(str(error))
    if any(sys.exc_info()):
        fixed_traceback = fix_traceback_line_numbers(traceback.format_exc())
        LOG(f'\n{fixed_traceback}')
        if is_debug_mode():
            message = f'{message}\n\n{fixed_traceback}'
    LOG.print_log()
    if is_command and demisto.command() == 'get-modified-remote-data':
        if (error and not isinstance(error, NotImplementedError)) or sys.exc_info()[0] is not NotImplementedError:
            message = 'skip update. error: ' + message
    if is_server_handled:
        raise Exception(message)
    if len(message) > MAX_ERROR_MESSAGE_LENGTH:
        half = MAX_ERROR_MESSAGE_LENGTH // 2
        message = message[:half] + '...This error body was truncated...' + message[half * (-1):]
    demisto.results({
        'Type': entryTypes['error'],
        'ContentsFormat': formats['text'],
        'Contents': message,
        'EntryContext': outputs,
    })
    sys.exit(0)


def return_warning(message: Any, exit: bool = False, warning: str = '', outputs: Optional[dict] = None,
                   ignore_auto_extract: bool = False) -> None:
    """Emits a warning entry (Type 11); with ``exit=True`` ends the run."""
    LOG(message)
    if warning:
        LOG(warning)
    LOG.print_log()
    demisto.results({
        'Type': entryTypes['warning'],
        'ContentsFormat': formats['text'],
        'IgnoreAutoExtract': ignore_auto_extract,
        'Contents': str(message),
        'EntryContext': outputs,
    })
    if exit:
        sys.exit(0)


class ExecutionMetrics:
    """API call counters reported to the server (6.8.0+) as an execution-metrics entry."""
    _FIELDS = (('success', ErrorTypes.SUCCESS), ('quota_error', ErrorTypes.QUOTA_ERROR),
               ('general_error', ErrorTypes.GENERAL_ERROR), ('auth_error', ErrorTypes.AUTH_ERROR),
               ('service_error', ErrorTypes.SERVICE_ERROR), ('connection_error', ErrorTypes.CONNECTION_ERROR),
               ('proxy_error', ErrorTypes.PROXY_ERROR), ('ssl_error', ErrorTypes.SSL_ERROR),
               ('timeout_error', ErrorTypes.TIMEOUT_ERROR), ('retry_error', ErrorTypes.RETRY_ERROR))

    def __init__(self, success: int = 0, quota_error: int = 0, general_error: int = 0, auth_error: int = 0,
                 service_error: int = 0, connection_error: int = 0, proxy_error: int = 0, ssl_error: int = 0,
                 timeout_error: int = 0, retry_error: int = 0) -> None:
        self.success = success
        self.quota_error = quota_error
        self.general_error = general_error
        self.auth_error = auth_error
        self.service_error = service_error
        self.connection_error = connection_error
        self.proxy_error = proxy_error
        self.ssl_error = ssl_error
        self.timeout_error = timeout_error
        self.retry_error = retry_error

    @staticmethod
    def is_supported() -> bool:
        return is_demisto_version_ge('6.8.0')

    def get_metric_list(self) -> list:
        return [{'Type': name, 'APICallsCount': getattr(self, attr)}
                for attr, name in self._FIELDS if getattr(self, attr) > 0]

    @property
    def metrics(self) -> Optional[CommandResults]:
        metric_list = self.get_metric_list()
        return CommandResults(execution_metrics=metric_list) if metric_list else None


def append_metrics(execution_metrics: ExecutionMetrics, results: list) -> list:
    """``results`` plus the metrics entry, when there are metrics and the server supports them."""
    if execution_metrics.metrics is not None and execution_metrics.is_supported():
        results.append(execution_metrics.metrics)
    return results


def fileResult(filename: str, data: Union[str, bytes], file_type: Optional[int] = None) -> dict:
    """Writes ``data`` to ``<investigation id>_<uniqueFile()>`` in the working directory; returns the file entry."""
    if file_type is None:
        file_type = entryTypes['file']
    temp = demisto.uniqueFile()
    if isinstance(data, str):
        data = data.encode('utf-8')
    with open(demisto.investigation()['id'] + '_' + temp, 'wb') as f:
        f.write(data)
    if isinstance(filename, str):
        replaced = filename.replace('../', '')
        if filename != replaced:
            filename = replaced
            demisto.debug(f'replaced {filename} with new file name {replaced}')
    return {'Contents': '', 'ContentsFormat': formats['text'], 'Type': file_type, 'File': filename, 'FileID': temp}


class PollResult:
    """What a ``@polling_function`` command returns: the response, and whether (and with what) to poll again."""

    def __init__(self, response: Any, continue_to_poll: Union[bool, Callable[[], bool]] = False,
                 args_for_next_run: Optional[dict] = None, partial_result: Optional[CommandResults] = None) -> None:
        self.response = response
        self.continue_to_poll = continue_to_poll
        self.args_for_next_run = args_for_next_run
        self.partial_result = partial_result


def polling_function(name: str, interval: int = 30, timeout: int = 600, poll_message: str = 'Fetching Results:',
                     polling_arg_name: str = 'polling', requires_polling_arg: bool = True) -> Callable:
    """Decorator for a command ``func(args, ...) -> PollResult`` that schedules itself until done."""
    def dec(func: Callable) -> Callable:
        def inner(args: dict, *arguments: Any, **kwargs: Any) -> Any:
            if requires_polling_arg and not argToBoolean(args.get(polling_arg_name, False)):
                return func(args, *arguments, **kwargs).response
            ScheduledCommand.raise_error_if_not_supported()
            poll_result = func(args, *arguments, **kwargs)
            should_poll = poll_result.continue_to_poll if isinstance(poll_result.continue_to_poll, bool) \
                else poll_result.continue_to_poll()
            if not should_poll:
                return poll_result.response
            readable_output = poll_message if not args.get('hide_polling_output') else None
            poll_args = poll_result.args_for_next_run or args
            poll_args['hide_polling_output'] = True
            poll_response = poll_result.partial_result or CommandResults(readable_output=readable_output)
            poll_response.scheduled_command = ScheduledCommand(command=name, next_run_in_seconds=interval,
                                                               args=poll_args, timeout_in_seconds=timeout)
            return poll_response
        return inner
    return dec


# ------------------------------------------------------------------------------------------------ integration context

def is_versioned_context_available() -> bool:
    return is_demisto_version_ge(MIN_VERSION_FOR_VERSIONED_CONTEXT)


def set_integration_context(context: dict, sync: bool = True, version: Any = -1) -> Any:
    """Stores the integration context (server >= 6.0: versioned; -1 means last write wins)."""
    demisto.debug('Setting integration context')
    if is_versioned_context_available():
        demisto.debug(f'Updating integration context with version {version}. Sync: {sync}')
        return demisto.setIntegrationContextVersioned(context, version, sync)
    return demisto.setIntegrationContext(context)


def get_integration_context(sync: bool = True, with_version: bool = False) -> dict:
    """The integration context (``{'context', 'version'}`` with ``with_version`` on a versioned server)."""
    if is_versioned_context_available():
        versioned = demisto.getIntegrationContextVersioned(sync)
        return versioned if with_version else versioned.get('context', {})
    return demisto.getIntegrationContext()


def get_integration_context_with_version(sync: bool = True) -> tuple[dict, Any]:
    """``(context, version)``; version is -1 when the server has no versioned context."""
    latest = get_integration_context(sync, with_version=True)
    version: Any = -1
    if is_versioned_context_available():
        context = latest.get('context', {})
        if sync:
            version = latest.get('version', 0)
    else:
        context = latest
    return context, version


def merge_lists(original_list: list, updated_list: list, key: str) -> list:
    """Replaces items of ``original_list`` by ``key``; items marked ``remove: True`` are dropped."""
    original = {element[key]: element for element in original_list}
    original.update({element[key]: element for element in updated_list})
    for removed in [obj for obj in original.values() if obj.get('remove', False) is True]:
        demisto.debug(f'Removing from integration context: {removed}')
    return [obj for obj in original.values() if obj.get('remove', False) is False]


def update_integration_context(context: dict, object_keys: Optional[dict] = None, sync: bool = True) -> tuple:
    """Merges ``context`` into the latest context. Every top-level value is stored JSON-encoded (a str)."""
    integration_context, version = get_integration_context_with_version(sync)
    object_keys = object_keys or {}
    for key in context:
        latest_object = json.loads(integration_context.get(key, '[]'))
        updated_object = context[key]
        if key in object_keys:
            integration_context[key] = json.dumps(merge_lists(latest_object, updated_object, object_keys[key]))
        else:
            integration_context[key] = json.dumps(updated_object)
    return integration_context, version


def set_to_integration_context_with_retries(context: dict, object_keys: Optional[dict] = None, sync: bool = True,
                                            max_retry_times: int = CONTEXT_UPDATE_RETRY_TIMES) -> None:
    """``update_integration_context`` + a versioned write, retried after a short random sleep on a conflict."""
    attempt = 0
    while True:
        if attempt == max_retry_times:
            raise Exception('Failed updating integration context. Max retry attempts exceeded.')
        integration_context, version = update_integration_context(context, object_keys, sync)
        demisto.debug(f'Attempting to update the integration context with version {version}.')
        attempt += 1
        try:
            set_integration_context(integration_context, sync, version)
            demisto.debug(f'Successfully updated integration context with version {version}.')
            break
        except ValueError as ve:
            demisto.debug(f'Failed updating integration context with version {version}: {ve} Attempts left - '
                          f'{CONTEXT_UPDATE_RETRY_TIMES - attempt}')
            time.sleep(randint(1, 100) / 1000)


# ------------------------------------------------------------------------------------------------ HTTP client

CIPHERS_STRING = '@SECLEVEL=1:ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20:ECDH+AESGCM:DH+AESGCM:' \
                 'ECDH+AES:DH+AES:RSA+ANESGCM:RSA+AES:!aNULL:!eNULL:!MD5:!DSS'


class SSLAdapter(HTTPAdapter):
    """HTTPS adapter with a wider cipher list; with ``verify=False`` it also skips the host-name check."""

    def __init__(self, verify: bool = True, **kwargs: Any) -> None:
        self.context = create_urllib3_context(ciphers=CIPHERS_STRING)
        if not verify:
            self.context.check_hostname = False
            if ssl.OPENSSL_VERSION_INFO >= (3, 0, 0, 0):
                self.context.options |= 0x4  # legacy server connect
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs['ssl_context'] = self.context
        super().init_poolmanager(*args, **kwargs)

    def proxy_manager_for(self, *args: Any, **kwargs: Any) -> Any:
        kwargs['ssl_context'] = self.context
        return super().proxy_manager_for(*args, **kwargs)


class BaseClient:
    """HTTP client for integrations: one connection pool per client, and ``_http_request``.

    ``proxy=False`` deletes the proxy environment variables and ``verify=False`` the CA-bundle ones (for the rest of
    the run). ``self.timeout`` is env ``REQUESTS_TIMEOUT.<integration>``, else env ``REQUESTS_TIMEOUT``, else
    ``timeout``.
    """

    REQUESTS_TIMEOUT = 60

    def __init__(self, base_url: str, verify: bool = True, proxy: bool = False, ok_codes: tuple = tuple(),
                 headers: Optional[dict] = None, auth: Any = None, timeout: float = REQUESTS_TIMEOUT) -> None:
        self._base_url = base_url
        self._verify = verify
        self._ok_codes = ok_codes
        self._headers = headers
        self._auth = auth
        self._session = requests.Session()
        if not verify:
            self._session.mount('https://', SSLAdapter(verify=verify))
        if proxy:
            ensure_proxy_has_http_prefix()
        else:
            skip_proxy()
        if not verify:
            skip_cert_verification()
        entity_timeout = os.getenv('REQUESTS_TIMEOUT.' + (get_integration_name() or get_script_name()), '')
        system_timeout = os.getenv('REQUESTS_TIMEOUT', '')
        self.timeout = float(entity_timeout or system_timeout or timeout)
        self.execution_metrics = ExecutionMetrics()

    def __del__(self) -> None:
        self._return_execution_metrics_results()
        try:
            self._session.close()
        except AttributeError:
            pass
        except Exception:
            demisto.debug(f'failed to close BaseClient session with the following error:\n{traceback.format_exc()}')

    def _implement_retry(self, retries: int = 0, status_list_to_retry: Any = None, backoff_factor: float = 5,
                         raise_on_redirect: bool = False, raise_on_status: bool = False) -> None:
        """Mounts a urllib3 Retry on https:// (GET, POST, PUT, PATCH, DELETE; sleeps factor * 2^(n-1))."""
        retry = Retry(total=retries, read=retries, connect=retries, backoff_factor=backoff_factor, status=retries,
                      status_forcelist=status_list_to_retry, raise_on_status=raise_on_status,
                      raise_on_redirect=raise_on_redirect,
                      allowed_methods=frozenset(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']))
        https_adapter = HTTPAdapter(max_retries=retry) if self._verify \
            else SSLAdapter(max_retries=retry, verify=self._verify)
        self._session.mount('https://', https_adapter)

    def _http_request(self, method: str, url_suffix: str = '', full_url: Optional[str] = None,
                      headers: Optional[dict] = None, auth: Any = None, json_data: Any = None, params: Any = None,
                      data: Any = None, files: Any = None, timeout: Any = None, resp_type: str = 'json',
                      ok_codes: Any = None, return_empty_response: bool = False, retries: int = 0,
                      status_list_to_retry: Any = None, backoff_factor: float = 5, raise_on_redirect: bool = False,
                      raise_on_status: bool = False, error_handler: Optional[Callable] = None,
                      empty_valid_codes: Optional[list] = None, params_parser: Optional[Callable] = None,
                      with_metrics: bool = False, **kwargs: Any) -> Any:
        """Sends one request and returns the body cast by ``resp_type`` (json, text, content, xml, response).

        ``headers``/``auth`` replace the client's defaults when given. A status not in ``ok_codes`` (or the client's
        ok codes; ``response.ok`` if both are empty) goes to ``error_handler``, or raises
        ``DemistoException('Error in API call [<status>] - <reason>\\n<body>', res=response)``. A status in
        ``empty_valid_codes`` (default [204]) with ``return_empty_response`` returns the Response itself.
        Transport failures raise DemistoException with a guidance message.
        """
        try:
            address = full_url if full_url else urljoin(self._base_url, url_suffix)
            headers = headers if headers else self._headers
            auth = auth if auth else self._auth
            if retries:
                self._implement_retry(retries, status_list_to_retry, backoff_factor, raise_on_redirect,
                                      raise_on_status)
            if not timeout:
                timeout = self.timeout
            if params_parser:
                params = urllib.parse.urlencode(params, quote_via=params_parser)
            res = self._session.request(method, address, verify=self._verify, params=params, data=data,
                                        json=json_data, files=files, headers=headers, auth=auth, timeout=timeout,
                                        **kwargs)
            if not self._is_status_code_valid(res, ok_codes):
                self._handle_error(error_handler, res, with_metrics)
            return self._handle_success(res, resp_type, empty_valid_codes, return_empty_response, with_metrics)
        except requests.exceptions.ConnectTimeout as exception:
            if with_metrics:
                self.execution_metrics.timeout_error += 1
            raise DemistoException('Connection Timeout Error - potential reasons might be that the Server URL '
                                   'parameter is incorrect or that the Server is not accessible from your host.',
                                   exception) from exception
        except requests.exceptions.SSLError as exception:
            if with_metrics:
                self.execution_metrics.ssl_error += 1
            if not self._verify:  # 'Trust any certificate' is already on: nothing to suggest
                raise
            raise DemistoException("SSL Certificate Verification Failed - try selecting 'Trust any certificate' "
                                   "checkbox in the integration configuration.", exception) from exception
        except requests.exceptions.ProxyError as exception:
            if with_metrics:
                self.execution_metrics.proxy_error += 1
            raise DemistoException("Proxy Error - if the 'Use system proxy' checkbox in the integration "
                                   "configuration is selected, try clearing the checkbox.", exception) from exception
        except requests.exceptions.ConnectionError as exception:
            if with_metrics:
                self.execution_metrics.connection_error += 1
            error_class = str(exception.__class__)
            err_type = '<' + error_class[error_class.find("'") + 1: error_class.rfind("'")] + '>'
            err_msg = 'Verify that the server URL parameter is correct and that you have access to the server ' \
                      f'from your host.\nError Type: {err_type}'
            if exception.errno and exception.strerror:
                err_msg += f'\nError Number: [{exception.errno}]\nMessage: {exception.strerror}\n'
            else:
                err_msg += f'\n{exception}'
            raise DemistoException(err_msg, exception) from exception
        except requests.exceptions.RetryError as exception:
            if with_metrics:
                self.execution_metrics.retry_error += 1
            try:
                reason = f'Reason: {exception.args[0].reason.args[0]}'
            except Exception:
                reason = ''
            raise DemistoException(f'Max Retries Error- Request attempts with {retries} retries failed. \n{reason}',
                                   exception) from exception

    def _handle_error(self, error_handler: Optional[Callable], res: requests.Response,
                      should_update_metrics: bool) -> None:
        try:
            if error_handler:
                error_handler(res)
            else:
                self.client_error_handler(res)
        except Exception:
            if should_update_metrics:
                self._update_metrics(res, success=False)
            raise

    def _handle_success(self, res: requests.Response, resp_type: str, empty_valid_codes: Optional[list],
                        return_empty_response: bool, should_update_metrics: bool) -> Any:
        if should_update_metrics:
            self._update_metrics(res, success=True)
        if not empty_valid_codes:
            empty_valid_codes = [204]
        if res.status_code in empty_valid_codes and return_empty_response:
            return res
        return self.cast_response(res, resp_type)

    def cast_response(self, res: requests.Response, resp_type: str, raise_on_error: bool = True) -> Any:
        """The body as ``json``, ``text``, ``content``; ``xml`` is parsed for validation and ``response``/other
        types return the Response."""
        resp_type = resp_type.lower()
        try:
            if resp_type == 'json':
                return res.json()
            if resp_type == 'text':
                return res.text
            if resp_type == 'content':
                return res.content
            if resp_type == 'xml':
                ET.fromstring(res.text)
            return res
        except ValueError as exception:
            if raise_on_error:
                raise DemistoException(f'Failed to parse {resp_type} object from response: {res.content!r}',
                                       exception, res) from exception
            return None

    def _update_metrics(self, res: requests.Response, success: bool) -> None:
        if success:
            if not self.is_polling_in_progress(res):
                self.execution_metrics.success += 1
            return
        error_type = self.determine_error_type(res)
        counter = {ErrorTypes.QUOTA_ERROR: 'quota_error', ErrorTypes.AUTH_ERROR: 'auth_error',
                   ErrorTypes.SERVICE_ERROR: 'service_error', ErrorTypes.GENERAL_ERROR: 'general_error'}.get(error_type)
        if counter:
            setattr(self.execution_metrics, counter, getattr(self.execution_metrics, counter) + 1)

    def determine_error_type(self, response: requests.Response) -> str:
        """401 auth, 429 quota, 500 service, anything else general (override for finer metrics)."""
        return {401: ErrorTypes.AUTH_ERROR, 429: ErrorTypes.QUOTA_ERROR,
                500: ErrorTypes.SERVICE_ERROR}.get(response.status_code, ErrorTypes.GENERAL_ERROR)

    def is_polling_in_progress(self, response: requests.Response) -> bool:
        return False

    def _is_status_code_valid(self, response: requests.Response, ok_codes: Any = None) -> bool:
        status_codes = ok_codes if ok_codes else self._ok_codes
        if status_codes:
            return response.status_code in status_codes
        return response.ok

    def client_error_handler(self, res: requests.Response) -> None:
        """Raises ``DemistoException('Error in API call [<status>] - <reason>\\n<JSON body or text>', res=res)``."""
        err_msg = f'Error in API call [{res.status_code}] - {res.reason}'
        try:
            err_msg += f'\n{json.dumps(res.json())}'
        except ValueError:
            err_msg += f'\n{res.text}'
        raise DemistoException(err_msg, res=res)

    def _return_execution_metrics_results(self) -> None:
        try:
            if self.execution_metrics.metrics:
                return_results(self.execution_metrics.metrics)
        except AttributeError:
            pass


# ------------------------------------------------------------------------------------------------ misc

def replace_spaces_in_credential(credential: Optional[str]) -> Optional[str]:
    """Restores the line breaks of a PEM block pasted on one line (spaces between BEGIN and END)."""
    if not credential:
        return credential
    match_begin = re.search('-----BEGIN(.*?)-----', credential)
    match_end = re.search('-----END(.*?)-----', credential)
    if match_begin and match_end:
        return re.sub(f'(?<={match_begin.group(0)})(.*?)(?={match_end.group(0)})',
                      lambda match: match.group(0).replace(' ', '\n'), credential)
    return credential


def get_current_time(time_zone: int = 0) -> datetime:
    """Now, shifted by ``time_zone`` hours, as an aware datetime (tzinfo UTC)."""
    return (datetime.now(UTC).replace(tzinfo=None) + timedelta(hours=time_zone)).replace(tzinfo=UTC)


def safe_sleep(duration_seconds: float) -> None:
    """Sleeps, but raises ValueError if the sleep would outlast the run's time limit."""
    context = demisto.callingContext.get('context', {})
    if 'runDuration' in context:
        run_duration = int(context.get('runDuration')) * 60
        time_left = run_duration - (datetime.now() - SAFE_SLEEP_START_TIME).total_seconds()
        if duration_seconds > time_left:
            raise ValueError(f'Requested a sleep of {duration_seconds} seconds, but time left until docker timeout is '
                             f'{run_duration} seconds.')
    else:
        demisto.info('Safe sleep is not supported in this server version, sleeping for the requested time.')
    time.sleep(duration_seconds)


def retry(times: int = 3, delay: float = 1, exceptions: Any = Exception) -> Callable:
    """Decorator: calls the function up to ``times`` times, sleeping ``delay`` seconds after each failure."""
    def _retry(func: Callable) -> Callable:
        func_name = func.__name__

        @wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            for i in range(1, times + 1):
                demisto.debug(f'Running func {func_name} for the {i} time')
                try:
                    return func(*args, **kwargs)
                except exceptions as error:
                    demisto.debug(f'Error when executing func {func_name}, error: {error}, time {i}')
                    if i == times:
                        raise
                    time.sleep(delay)
            return None
        return wrapper
    return _retry
