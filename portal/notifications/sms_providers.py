"""The two SMS providers, each speaking its published HTTP API with the standard library (no SDK):

- Alibaba Cloud SMS (dysmsapi, `SendSms`, API version 2017-05-25), RPC style: the request's parameters,
  common ones included, sorted by name and percent-encoded (RFC 3986: space %20, `*` %2A, `~` kept) make the
  canonicalized query; the string to sign is `POST&%2F&` + its encoding; the signature is the Base64 of
  HMAC-SHA1 keyed with AccessKeySecret + "&". Sent as a form-encoded POST.
- Tencent Cloud SMS (sms.tencentcloudapi.com, `SendSms`, API version 2021-01-11), TC3-HMAC-SHA256: the
  canonical request (method, "/", empty query, the signed headers content-type, host and x-tc-action, and the
  SHA-256 of the JSON body) is hashed into the string to sign with the credential scope <date>/sms/tc3_request;
  the key is derived by HMAC-SHA256 from "TC3" + SecretKey over the date, "sms" and "tc3_request".

Both adapters have the channel interface of e-mail (portal.notifications.sender): `send(message)` returns
the provider's id for the message once it is accepted, and raises DeliveryError otherwise: `permanent` when
the provider refused this message for good (an invalid number, a template that does not fit), `unreachable`
when nothing can go now (down, refused credentials, no balance, throttled as a whole).

This module imports nothing of the portal but the DeliveryError: the tests' provider servers
(tests/notifications/sms_servers.py) check requests with their own code, written from the same documents."""
import base64
import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.error import HTTPError, URLError
from urllib.parse import quote, urlencode, urlsplit
from urllib.request import Request, urlopen

from portal.notifications.sender import DeliveryError


@dataclass
class TextMessage:
    """One text message: the number (11 digits, mainland China), the provider's approved template and its
    parameters in the template's order (Tencent's TemplateParamSet is positional, Alibaba's is by name)."""
    to: str
    template: str
    params: list[tuple[str, str]] = field(default_factory=list)


def _clock() -> datetime:
    return datetime.now(UTC)


# --- Alibaba Cloud ---------------------------------------------------------------------------------------------

ALIYUN_ENDPOINT = "https://dysmsapi.aliyuncs.com/"
ALIYUN_VERSION = "2017-05-25"
# Codes that refuse this one message for good; anything else not listed as unreachable is temporary.
ALIYUN_PERMANENT = {"isv.MOBILE_NUMBER_ILLEGAL", "isv.MOBILE_COUNT_OVER_LIMIT", "isv.TEMPLATE_MISSING_PARAMETERS",
                    "isv.INVALID_PARAMETERS", "isv.PARAM_LENGTH_LIMIT", "isv.PARAM_NOT_SUPPORT_URL",
                    "isv.BLACK_KEY_CONTROL_LIMIT", "isv.INVALID_JSON_PARAM", "isv.SMS_TEMPLATE_ILLEGAL",
                    "isv.SMS_SIGNATURE_ILLEGAL", "isv.SMS_SIGN_ILLEGAL", "isv.DAY_LIMIT_CONTROL"}
ALIYUN_UNREACHABLE_PREFIXES = ("SignatureDoesNotMatch", "InvalidAccessKeyId", "IncompleteSignature",
                               "InvalidTimeStamp", "SignatureNonceUsed", "Forbidden", "Throttling",
                               "isv.AMOUNT_NOT_ENOUGH", "isv.OUT_OF_SERVICE", "isv.ACCOUNT_ABNORMAL",
                               "isv.ACCOUNT_NOT_EXISTS", "isp.SYSTEM_ERROR", "ServiceUnavailable")


def aliyun_percent_encode(value: str) -> str:
    """RFC 3986 percent-encoding as Alibaba's RPC signature specifies (UTF-8; only A-Z a-z 0-9 - _ . ~ kept)."""
    return quote(str(value).encode("utf-8"), safe="-_.~")


def aliyun_string_to_sign(method: str, params: dict[str, str]) -> str:
    canonical = "&".join(f"{aliyun_percent_encode(k)}={aliyun_percent_encode(v)}"
                         for k, v in sorted(params.items()))
    return f"{method}&{aliyun_percent_encode('/')}&{aliyun_percent_encode(canonical)}"


def aliyun_signature(method: str, params: dict[str, str], secret: str) -> str:
    digest = hmac.new(f"{secret}&".encode(), aliyun_string_to_sign(method, params).encode(), hashlib.sha1)
    return base64.b64encode(digest.digest()).decode()


class AliyunSms:
    def __init__(self, access_key_id: str, access_key_secret: str, sign_name: str, *,
                 endpoint: str | None = None, region: str | None = None, timeout: float = 10, clock=_clock):
        self.access_key_id, self.access_key_secret, self.sign_name = access_key_id, access_key_secret, sign_name
        self.endpoint = endpoint or ALIYUN_ENDPOINT
        self.region = region or "cn-hangzhou"
        self.timeout, self.clock = timeout, clock

    def params(self, message: TextMessage) -> dict[str, str]:
        params = {
            "AccessKeyId": self.access_key_id, "Action": "SendSms", "Format": "JSON", "RegionId": self.region,
            "SignatureMethod": "HMAC-SHA1", "SignatureNonce": uuid.uuid4().hex, "SignatureVersion": "1.0",
            "Timestamp": self.clock().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "Version": ALIYUN_VERSION,
            "PhoneNumbers": message.to, "SignName": self.sign_name, "TemplateCode": message.template,
        }
        if message.params:
            params["TemplateParam"] = json.dumps(dict(message.params), ensure_ascii=False, separators=(",", ":"))
        params["Signature"] = aliyun_signature("POST", params, self.access_key_secret)
        return params

    def send(self, message: TextMessage) -> str:
        body = urlencode(self.params(message), quote_via=quote).encode()
        request = Request(self.endpoint, data=body, method="POST", headers={
            "Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"})
        status, answer = _exchange(request, self.timeout)
        code = str(answer.get("Code") or f"HTTP {status}")
        if code == "OK":
            return str(answer.get("BizId") or "")
        reply = f"{code}: {answer.get('Message') or ''}".strip()
        if status >= 500 or code.startswith(ALIYUN_UNREACHABLE_PREFIXES):
            raise DeliveryError(reply, unreachable=True)
        raise DeliveryError(reply, permanent=code in ALIYUN_PERMANENT)


# --- Tencent Cloud ---------------------------------------------------------------------------------------------

TENCENT_ENDPOINT = "https://sms.tencentcloudapi.com/"
TENCENT_VERSION = "2021-01-11"
TENCENT_SERVICE = "sms"
TENCENT_CONTENT_TYPE = "application/json; charset=utf-8"
TENCENT_PERMANENT_PREFIXES = (
    "InvalidParameterValue", "UnsupportedOperation", "MissingParameter", "InvalidParameter",
    "FailedOperation.PhoneNumberInBlacklist", "FailedOperation.ContainSensitiveWord",
    "FailedOperation.TemplateIncorrectOrUnapproved", "FailedOperation.SignatureIncorrectOrUnapproved",
    "FailedOperation.MissingTemplateToModify")
TENCENT_UNREACHABLE_PREFIXES = (
    "AuthFailure", "RequestLimitExceeded", "FailedOperation.InsufficientBalanceInSmsPackage",
    "UnauthorizedOperation", "InternalError", "ResourceUnavailable")


def _hmac_sha256(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()


def tencent_canonical_request(method: str, headers: dict[str, str], signed: list[str], body: bytes,
                              query: str = "") -> str:
    """The canonical request of TC3-HMAC-SHA256; `headers` by lower-case name, `signed` the names signed."""
    canonical_headers = "".join(f"{name}:{headers[name].strip().lower()}\n" for name in signed)
    return "\n".join((method, "/", query, canonical_headers, ";".join(signed), hashlib.sha256(body).hexdigest()))


def tencent_signature(secret_key: str, timestamp: int, canonical_request: str,
                      service: str = TENCENT_SERVICE) -> str:
    day = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    scope = f"{day}/{service}/tc3_request"
    string_to_sign = "\n".join(("TC3-HMAC-SHA256", str(timestamp), scope,
                                hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()))
    key = _hmac_sha256(("TC3" + secret_key).encode("utf-8"), day)
    key = _hmac_sha256(key, service)
    key = _hmac_sha256(key, "tc3_request")
    return hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


class TencentSms:
    def __init__(self, secret_id: str, secret_key: str, sign_name: str, sdk_app_id: str, *,
                 endpoint: str | None = None, region: str | None = None, timeout: float = 10, clock=_clock):
        self.secret_id, self.secret_key, self.sign_name, self.sdk_app_id = secret_id, secret_key, sign_name, sdk_app_id
        self.endpoint = endpoint or TENCENT_ENDPOINT
        self.region = region or "ap-guangzhou"
        self.timeout, self.clock = timeout, clock

    def request(self, message: TextMessage) -> Request:
        body = json.dumps({"PhoneNumberSet": [f"+86{message.to}"], "SmsSdkAppId": self.sdk_app_id,
                           "SignName": self.sign_name, "TemplateId": message.template,
                           "TemplateParamSet": [value for _name, value in message.params]},
                          ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        timestamp = int(self.clock().timestamp())
        host = urlsplit(self.endpoint).netloc
        signed = ["content-type", "host", "x-tc-action"]
        canonical = tencent_canonical_request("POST", {"content-type": TENCENT_CONTENT_TYPE, "host": host,
                                                       "x-tc-action": "SendSms"}, signed, body)
        day = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
        authorization = (f"TC3-HMAC-SHA256 Credential={self.secret_id}/{day}/{TENCENT_SERVICE}/tc3_request, "
                         f"SignedHeaders={';'.join(signed)}, "
                         f"Signature={tencent_signature(self.secret_key, timestamp, canonical)}")
        return Request(self.endpoint, data=body, method="POST", headers={
            "Authorization": authorization, "Content-Type": TENCENT_CONTENT_TYPE, "Host": host,
            "X-TC-Action": "SendSms", "X-TC-Version": TENCENT_VERSION, "X-TC-Timestamp": str(timestamp),
            "X-TC-Region": self.region})

    def send(self, message: TextMessage) -> str:
        status, answer = _exchange(self.request(message), self.timeout)
        response = answer.get("Response") if isinstance(answer.get("Response"), dict) else {}
        error = response.get("Error")
        if isinstance(error, dict) or status >= 500 or not response:
            error = error if isinstance(error, dict) else {}
            code = str(error.get("Code") or f"HTTP {status}")
            reply = f"{code}: {error.get('Message') or ''}".strip()
            if status >= 500 or not response or code.startswith(TENCENT_UNREACHABLE_PREFIXES):
                raise DeliveryError(reply, unreachable=True)
            raise DeliveryError(reply, permanent=code.startswith(TENCENT_PERMANENT_PREFIXES))
        statuses = response.get("SendStatusSet") or [{}]
        first = statuses[0] if isinstance(statuses[0], dict) else {}
        code = str(first.get("Code") or "")
        if code == "Ok":
            return str(first.get("SerialNo") or "")
        reply = f"{code or 'no status'}: {first.get('Message') or ''}".strip()
        raise DeliveryError(reply, permanent=code.startswith(TENCENT_PERMANENT_PREFIXES))


# --- HTTP ------------------------------------------------------------------------------------------------------

def _exchange(request: Request, timeout: float) -> tuple[int, dict]:
    """(HTTP status, JSON answer). DeliveryError(unreachable) when there is no answer at all."""
    try:
        with urlopen(request, timeout=timeout) as response:  # noqa: S310  (the configured provider address)
            status, raw = response.status, response.read(65536)
    except HTTPError as error:
        status, raw = error.code, error.read(65536)
    except (URLError, OSError) as error:
        reason = getattr(error, "reason", None) or error
        raise DeliveryError(f"cannot reach {request.full_url}: {reason}", unreachable=True) from None
    try:
        answer = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        if status >= 500:
            raise DeliveryError(f"HTTP {status}", unreachable=True) from None
        raise DeliveryError(f"HTTP {status}: not JSON") from None
    return status, answer if isinstance(answer, dict) else {}
