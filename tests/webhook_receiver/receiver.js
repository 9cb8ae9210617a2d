// A webhook receiver for the integration tests. Listens on 127.0.0.1 (port from argv[2], 0 =
// any), prints "listening <port>" once ready, and records every request it gets:
//   - verified with the standardwebhooks package (webhook-id/-timestamp/-signature), and
//   - with its own check of X-Webhook-Signature: hex HMAC-SHA256 keyed with the whole secret
//     string, of the raw body,
// against the secrets registered for the request's path.
// Control (JSON):
//   POST /_secret {"path": "/a", "secret": "whsec_..."}   register the secret of a path
//   POST /_config {"fail_first": {"/a": 2}, "fail_every": 3, "delay_ms": {"/b": 5000}}
//       a request to path P whose message number n % fail_every == 0 (all when fail_every = 1)
//       gets 500 on its first fail_first[P] attempts; delay_ms holds the answer that long.
//   GET /_received  -> [{path, id, attempt, event, body, standard_ok, hmac_ok, answered,
//                        signature, timestamp (the webhook-signature/-timestamp headers), ...}]
"use strict";
const http = require("http");
const crypto = require("crypto");
const { Webhook } = require("standardwebhooks");

const secrets = {};
let config = { fail_first: {}, fail_every: 1, delay_ms: {} };
const received = [];
const attempts = {};

function readBody(req) {
  return new Promise((resolve) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
  });
}

function json(res, status, value) {
  res.writeHead(status, { "Content-Type": "application/json" });
  res.end(JSON.stringify(value));
}

const server = http.createServer(async (req, res) => {
  const body = await readBody(req);
  const path = req.url;
  if (path === "/_secret" && req.method === "POST") {
    const { path: p, secret } = JSON.parse(body);
    secrets[p] = secret;
    return json(res, 200, { ok: true });
  }
  if (path === "/_config" && req.method === "POST") {
    config = Object.assign({ fail_first: {}, fail_every: 1, delay_ms: {} }, JSON.parse(body));
    return json(res, 200, { ok: true });
  }
  if (path === "/_received" && req.method === "GET") return json(res, 200, received);

  const id = req.headers["webhook-id"] || "";
  const attemptKey = path + " " + id;  // ids of different servers may coincide
  attempts[attemptKey] = (attempts[attemptKey] || 0) + 1;
  const secret = secrets[path];
  let standardOk = false;
  let hmacOk = false;
  if (secret) {
    try {
      new Webhook(secret).verify(body, req.headers);
      standardOk = true;
    } catch (e) {
      standardOk = false;
    }
    const expected = crypto.createHmac("sha256", secret).update(body, "utf8").digest("hex");
    const given = req.headers["x-webhook-signature"] || "";
    hmacOk = given.length === expected.length && crypto.timingSafeEqual(Buffer.from(given), Buffer.from(expected));
  }
  const number = parseInt(id.replace(/^msg_/, ""), 10) || 0;
  const failFirst = config.fail_first[path] || 0;
  const every = config.fail_every || 1;
  const fail = number % every === 0 && attempts[attemptKey] <= failFirst;
  const answered = fail ? 500 : 200;
  let event = null;
  try {
    event = JSON.parse(body).event;
  } catch (e) {}
  const record = {
    path, id, attempt: attempts[attemptKey], event, body, standard_ok: standardOk, hmac_ok: hmacOk, answered,
    x_event: req.headers["x-webhook-event"] || null, x_timestamp: req.headers["x-webhook-timestamp"] || null,
    content_type: req.headers["content-type"] || null,
    signature: req.headers["webhook-signature"] || null, timestamp: req.headers["webhook-timestamp"] || null,
  };
  const delay = (config.delay_ms || {})[path] || 0;
  setTimeout(() => {
    received.push(record);
    json(res, answered, { ok: !fail });
  }, delay);
});

server.listen(parseInt(process.argv[2] || "0", 10), "127.0.0.1", () => {
  console.log("listening " + server.address().port);
});
