// The SDK's JSON and the HTTP request/response shapes, checked natively by test/run.mjs (node's
// WASI): `assert` traps, a trap fails the build.
import * as flotilla from "../assembly/index";

function check(ok: bool, what: string): void {
  if (!ok) {
    process.stderr.write("FAILED: " + what + "\n");
    process.exit(1);
  }
}

function main(): void {
  const response = flotilla.http.parseResponse('{"status":201,"headers":{"Location":"/a","Vary":["x","y"]},"body":"h\\u00e9\\n\\"x\\""}');
  check(!response.failed, "a response parses");
  check(response.status == 201, "status");
  check(response.header("location") == "/a", "header by any case");
  check(response.header("vary") == "x, y", "a list header is joined");
  check(response.body == "hé\n\"x\"", "body unescaped");
  check(response.isSuccess, "2xx is success");
  check(flotilla.http.parseResponse('{"body":""}').error == flotilla.HostError.BadResponse, "no status is a bad response");

  check(
    flotilla.http.post('https://x/a?b="c"').header("content-type", "application/json").body('{"k": 1}').toJson()
      == '{"method":"POST","url":"https://x/a?b=\\"c\\"","headers":{"content-type":"application/json"},"body":"{\\"k\\": 1}"}',
    "request shape");
  check(flotilla.http.get("https://x/").toJson() == '{"method":"GET","url":"https://x/"}', "a bare GET");

  const text = "tab\t quote\" back\\ nul\0 snow\u2603 \uD83D\uDE00";
  const back = flotilla.parseJson(flotilla.quote(text));
  check(back !== null && back.kind == flotilla.JsonKind.String && back.text == text, "quote round-trips");
  const bad = ["", "{", "[1,", '{"a" 1}', "tru", '"abc', "1 2", '{"a":1,}'];
  for (let i = 0; i < bad.length; i++) check(flotilla.parseJson(bad[i]) === null, "refuses " + bad[i]);
  const payload = flotilla.parseJson(' {"url": "https://e", "n": 3, "f": true, "a": [1, {"b": null}]} ');
  check(payload !== null && payload.getString("url") == "https://e" && payload.getInt("n") == 3 && payload.getBool("f"), "payload fields");
  process.stdout.write("json: ok\n");
}

main();
