// bench/serve/node_receiver.js: the vendor's Node recipe, as a benchmark peer of `hookrx serve`.
// node:http, createHmac over the raw body, timingSafeEqual against X-PerfectParser-Signature,
// JSON.parse, 200. It stores nothing and deduplicates nothing.
//
//   HOOKRX_BENCH_SECRET=wh_sec_... node bench/serve/node_receiver.js PORT
'use strict';
const http = require('node:http');
const { createHmac, timingSafeEqual } = require('node:crypto');

const secret = process.env.HOOKRX_BENCH_SECRET || 'wh_sec_9f2c71e04ab35d86c1e7f0a24b9d63e5';
const port = Number(process.argv[2] || 18080);

http.createServer((req, res) => {
  if (req.method !== 'POST' || req.url !== '/webhooks/perfectparser') {
    res.writeHead(404).end();
    return;
  }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    const given = Buffer.from(String(req.headers['x-perfectparser-signature'] || ''), 'hex');
    const expected = createHmac('sha256', secret).update(body).digest();
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      res.writeHead(401, { 'Content-Type': 'application/json' }).end('{"error":"signature_mismatch"}');
      return;
    }
    try {
      JSON.parse(body);
    } catch (e) {
      res.writeHead(400, { 'Content-Type': 'application/json' }).end('{"error":"invalid_json"}');
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"status":"processed"}');
  });
}).listen(port, '127.0.0.1');
