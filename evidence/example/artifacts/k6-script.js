// The k6 script of the example bundle (evidence/example): a constant number of VUs for a
// fixed time against the local example service (pytest_loadcert/demo/exampleservice.py).
//
// Parameters, passed by tools/record_example.py with -e (none has a default, so a missing
// one stops k6 before it sends anything instead of silently running another load):
//   BASE_URL  the service, e.g. http://127.0.0.1:41234 (127.0.0.1 only)
//   VUS       the stage's VUs, e.g. 5
//   DURATION  e.g. 8s
import http from "k6/http";
import { check, sleep } from "k6";

function required(name) {
  const value = __ENV[name];
  if (!value) {
    throw new Error(`-e ${name}=... is required`);
  }
  return value;
}

const BASE_URL = required("BASE_URL");

export const options = {
  scenarios: {
    constant: {
      executor: "constant-vus",
      vus: Number(required("VUS")),
      duration: required("DURATION"),
      gracefulStop: "2s",
    },
  },
  // The script's own thresholds make k6 exit 99 when they are crossed; the certification
  // bounds themselves live in evidence/example.toml, not here.
  thresholds: {
    http_req_failed: ["rate<0.001"],
    "http_req_duration{expected_response:true}": ["p(95)<300"],
    checks: ["rate>0.999"],
  },
};

export default function () {
  const home = http.get(`${BASE_URL}/`, { tags: { route: "home" } });
  check(home, { "home status is 200": (r) => r.status === 200 });
  const items = http.get(`${BASE_URL}/api/items`, { tags: { route: "items" } });
  check(items, { "items status is 200": (r) => r.status === 200 });
  sleep(0.1); // a gentle, steady pace: a few hundred requests per stage, not a flood
}
