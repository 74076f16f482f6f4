"""Local stand-ins for the two SMS providers' HTTP APIs, written from the providers' published documents (not
from the portal's adapter): each recomputes the request's signature from the raw request exactly as the
provider documents it, refuses a wrong one with the provider's own error body, answers the provider's success
body, its rate-limit and invalid-number errors, and can go down (nothing listens) and come back on its port.

- Alibaba Cloud SMS, dysmsapi SendSms 2017-05-25, RPC signature (HMAC-SHA1 over
  "<METHOD>&%2F&" + percentEncode(sorted, percent-encoded query), key AccessKeySecret + "&").
- Tencent Cloud SMS, SendSms 2021-01-11, TC3-HMAC-SHA256 (canonical request from the SignedHeaders named in
  the Authorization header, the body's SHA-256, scope <date>/sms/tc3_request)."""
import base64
import hashlib
import hmac
import json
import re
import threading
import time
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, quote, urlsplit

PHONE = re.compile(r"^1\d{10}$")


class ProviderServer:
    """Runs a handler on 127.0.0.1; `go_down()` closes the port, `come_back()` listens on it again."""

    handler_class: type

    def __init__(self, key_id: str, secret: str, templates: dict[str, tuple[str, ...]], *, per_minute: int = 30):
        self.key_id, self.secret, self.templates, self.per_minute = key_id, secret, templates, per_minute
        self.accepted: list[dict] = []   # messages the provider took (and would deliver)
        self.refusals: list[dict] = []   # error bodies it answered
        self.requests = 0
        self.delay = 0.0  # seconds before each answer (a slow provider)
        self.sent_times: dict[str, list[float]] = {}
        self.nonces: set[str] = set()
        self.lock = threading.RLock()
        self.port = None
        self.server = None
        self.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self):
        owner = self

        class Handler(self.handler_class):
            provider = owner
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port or 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def go_down(self):
        self.server.shutdown()
        self.server.server_close()

    def come_back(self):
        self.start()

    def stop(self):
        self.go_down()

    def rate_limited(self, phone: str) -> bool:
        """More than `per_minute` messages to one number within a minute (the providers' flow control)."""
        now = time.monotonic()
        times = [t for t in self.sent_times.get(phone, []) if now - t < 60]
        self.sent_times[phone] = times
        if len(times) >= self.per_minute:
            return True
        times.append(now)
        return False


class _Base(BaseHTTPRequestHandler):
    provider: ProviderServer

    def log_message(self, *args):
        pass

    def answer(self, status: int, body: dict):
        raw = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))


# --- Alibaba Cloud ---------------------------------------------------------------------------------------------

def _ali_encode(value: str) -> str:
    # Alibaba's percentEncode: URL-encode in UTF-8, then "+" → "%20", "*" → "%2A", "%7E" → "~".
    return quote(value, safe="").replace("+", "%20").replace("*", "%2A").replace("%7E", "~")


def ali_string_to_sign(method: str, params: dict[str, str]) -> str:
    query = "&".join(_ali_encode(k) + "=" + _ali_encode(params[k]) for k in sorted(params))
    return method + "&" + _ali_encode("/") + "&" + _ali_encode(query)


class AliyunHandler(_Base):
    def do_GET(self):
        self.handle_call("GET", urlsplit(self.path).query)

    def do_POST(self):
        query = urlsplit(self.path).query
        body = self.body().decode()
        self.handle_call("POST", "&".join(p for p in (query, body) if p))

    def error(self, status: int, code: str, message: str, **extra):
        body = {"RequestId": str(uuid.uuid4()).upper(), "Message": message, "Code": code, **extra}
        with self.provider.lock:
            self.provider.refusals.append(body)
        self.answer(status, body)

    def handle_call(self, method: str, query: str):
        provider = self.provider
        time.sleep(provider.delay)
        with provider.lock:
            provider.requests += 1
        params = dict(parse_qsl(query, keep_blank_values=True))
        signature = params.pop("Signature", None)
        for name in ("AccessKeyId", "SignatureMethod", "SignatureVersion", "SignatureNonce", "Timestamp",
                     "Version", "Action", "Format"):
            if not params.get(name):
                return self.error(400, "MissingParameter", f"The input parameter \"{name}\" that is mandatory "
                                  "for processing this request is not supplied.", HostId="dysmsapi.aliyuncs.com")
        if signature is None:
            return self.error(400, "IncompleteSignature", "The request signature does not conform to Aliyun "
                              "standards.", HostId="dysmsapi.aliyuncs.com")
        if params["SignatureMethod"] != "HMAC-SHA1" or params["SignatureVersion"] != "1.0":
            return self.error(400, "InvalidSignatureMethod", "Specified signature method is not supported.",
                              HostId="dysmsapi.aliyuncs.com")
        if params["Version"] != "2017-05-25" or params["Action"] != "SendSms":
            return self.error(404, "InvalidVersion", "Specified parameter Version is not valid.",
                              HostId="dysmsapi.aliyuncs.com")
        try:
            stamp = datetime.strptime(params["Timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        except ValueError:
            return self.error(400, "InvalidTimeStamp.Format", "Specified time stamp or date value is not well "
                              "formatted.", HostId="dysmsapi.aliyuncs.com")
        if abs((datetime.now(UTC) - stamp).total_seconds()) > 15 * 60:
            return self.error(400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.",
                              HostId="dysmsapi.aliyuncs.com")
        if params["AccessKeyId"] != provider.key_id:
            return self.error(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.",
                              HostId="dysmsapi.aliyuncs.com")
        to_sign = ali_string_to_sign(method, params)
        expected = base64.b64encode(hmac.new((provider.secret + "&").encode(), to_sign.encode(),
                                             hashlib.sha1).digest()).decode()
        if not hmac.compare_digest(expected, signature):
            return self.error(400, "SignatureDoesNotMatch", "Specified signature is not matched with our "
                              f"calculation. server string to sign is:{to_sign}", HostId="dysmsapi.aliyuncs.com",
                              Recommend="https://api.aliyun.com/troubleshoot?q=SignatureDoesNotMatch"
                                        "&product=Dysmsapi")
        with provider.lock:
            if params["SignatureNonce"] in provider.nonces:
                return self.error(400, "SignatureNonceUsed", "Specified signature nonce was used already.",
                                  HostId="dysmsapi.aliyuncs.com")
            provider.nonces.add(params["SignatureNonce"])
        phone = params.get("PhoneNumbers", "")
        if not PHONE.match(phone):
            return self.error(200, "isv.MOBILE_NUMBER_ILLEGAL", "非法手机号")
        template = params.get("TemplateCode", "")
        if template not in provider.templates:
            return self.error(200, "isv.SMS_TEMPLATE_ILLEGAL", "该账号下找不到对应模板")
        try:
            values = json.loads(params.get("TemplateParam") or "{}")
        except ValueError:
            return self.error(200, "isv.INVALID_JSON_PARAM", "JSON参数不合法，只接受字符串值")
        if set(values) != set(provider.templates[template]):
            return self.error(200, "isv.TEMPLATE_MISSING_PARAMETERS", "模板变量缺少对应参数值")
        with provider.lock:
            if provider.rate_limited(phone):
                return self.error(200, "isv.BUSINESS_LIMIT_CONTROL", "触发分钟级流控Permits:1")
            biz_id = f"{len(provider.accepted) + 900619746936498}^0"
            provider.accepted.append({"phone": phone, "template": template, "params": values,
                                      "sign_name": params.get("SignName"), "id": biz_id})
        self.answer(200, {"Message": "OK", "RequestId": str(uuid.uuid4()).upper(), "Code": "OK", "BizId": biz_id})


class AliyunServer(ProviderServer):
    handler_class = AliyunHandler


# --- Tencent Cloud ---------------------------------------------------------------------------------------------

AUTHORIZATION = re.compile(r"^TC3-HMAC-SHA256 Credential=([^/]+)/(\d{4}-\d{2}-\d{2})/([^/]+)/tc3_request, "
                           r"SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$")


def tc3_signature(secret_key: str, date: str, service: str, timestamp: str, canonical_request: str) -> str:
    def sign(key: bytes, msg: str) -> bytes:
        return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()
    string_to_sign = ("TC3-HMAC-SHA256\n" + timestamp + "\n" + f"{date}/{service}/tc3_request\n"
                      + hashlib.sha256(canonical_request.encode("utf-8")).hexdigest())
    secret_signing = sign(sign(sign(("TC3" + secret_key).encode("utf-8"), date), service), "tc3_request")
    return hmac.new(secret_signing, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


class TencentHandler(_Base):
    def error(self, code: str, message: str):
        body = {"Response": {"Error": {"Code": code, "Message": message}, "RequestId": str(uuid.uuid4())}}
        with self.provider.lock:
            self.provider.refusals.append(body)
        self.answer(200, body)

    def do_POST(self):
        provider = self.provider
        time.sleep(provider.delay)
        with provider.lock:
            provider.requests += 1
        raw = self.body()
        match = AUTHORIZATION.match(self.headers.get("Authorization", ""))
        if match is None:
            return self.error("AuthFailure.InvalidAuthorization", "Authorization不符合腾讯云标准。")
        secret_id, date, service, signed_headers, signature = match.groups()
        if self.headers.get("X-TC-Action") != "SendSms" or self.headers.get("X-TC-Version") != "2021-01-11":
            return self.error("InvalidAction", "接口不存在。")
        timestamp = self.headers.get("X-TC-Timestamp", "")
        if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > 300:
            return self.error("AuthFailure.SignatureExpire", "签名过期。Timestamp和服务器时间相差不得超过五分钟。")
        if secret_id != provider.key_id:
            return self.error("AuthFailure.SecretIdNotFound", "密钥不存在。")
        names = signed_headers.split(";")
        if "content-type" not in names or "host" not in names or not self.headers.get("X-TC-Region"):
            return self.error("AuthFailure.InvalidAuthorization", "Authorization不符合腾讯云标准。")
        canonical_headers = "".join(f"{name}:{(self.headers.get(name) or '').strip().lower()}\n" for name in names)
        canonical = "\n".join(("POST", "/", urlsplit(self.path).query, canonical_headers, signed_headers,
                               hashlib.sha256(raw).hexdigest()))
        stamp_date = datetime.fromtimestamp(int(timestamp), UTC).strftime("%Y-%m-%d")
        expected = tc3_signature(provider.secret, date, service, timestamp, canonical)
        if service != "sms" or date != stamp_date or not hmac.compare_digest(expected, signature):
            return self.error("AuthFailure.SignatureFailure", "The provided credentials could not be validated. "
                              "Please check your signature is correct.")
        try:
            request = json.loads(raw.decode("utf-8"))
        except ValueError:
            return self.error("InvalidParameter", "请求体不是有效的JSON。")
        template = str(request.get("TemplateId", ""))
        if template not in provider.templates:
            return self.error("FailedOperation.TemplateIncorrectOrUnapproved", "模板未审批或内容不合规。")
        values = request.get("TemplateParamSet") or []
        if len(values) != len(provider.templates[template]):
            return self.error("InvalidParameterValue.TemplateParameterFormatError",
                              "验证码模板参数格式错误，验证码类模版，模版变量只能传入0-6位（包括6位）纯数字。")
        statuses = []
        for number in request.get("PhoneNumberSet") or []:
            status = {"SerialNo": "", "PhoneNumber": number, "Fee": 0, "SessionContext": "", "IsoCode": "CN"}
            local = number[3:] if number.startswith("+86") else ""
            with provider.lock:
                if not PHONE.match(local):
                    status.update(Code="InvalidParameterValue.IncorrectPhoneNumber", Message="手机号格式错误",
                                  IsoCode="")
                    provider.refusals.append(status)
                elif provider.rate_limited(local):
                    status.update(Code="LimitExceeded.PhoneNumberThirtySecondLimit",
                                  Message="单个手机号30秒内下发短信条数超过设定的上限")
                    provider.refusals.append(status)
                else:
                    serial = f"5000:{1045710669157053657849499619 + len(provider.accepted)}"
                    status.update(SerialNo=serial, Fee=1, Code="Ok", Message="send success")
                    provider.accepted.append({"phone": local, "template": template, "params": list(values),
                                              "sign_name": request.get("SignName"),
                                              "app_id": request.get("SmsSdkAppId"), "id": serial})
            statuses.append(status)
        self.answer(200, {"Response": {"SendStatusSet": statuses, "RequestId": str(uuid.uuid4())}})


class TencentServer(ProviderServer):
    handler_class = TencentHandler
