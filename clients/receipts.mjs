// A borough checking a receipt with an independent JOSE implementation (panva's `jose`):
// `node receipts.mjs http://127.0.0.1:8080 <submitter token for camden>`. Submits one value,
// reads the return's receipt, and verifies it against the server's published key set.
import { createLocalJWKSet, jwtVerify } from 'jose';
import assert from 'node:assert/strict';

const [base, token] = [process.argv[2].replace(/\/$/, ''), process.argv[3]];
const gql = async (query, variables) => {
  const res = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = await res.json();
  assert.ok(!body.errors, JSON.stringify(body.errors));
  return body.data;
};

const submitted = await gql(
  `mutation($v: Float!) { submitReturn(input: { organisation: "camden", values: [
     { measure: "school-readiness", geography: "E09000007", period: "2021/22", value: $v }] }) {
     return { id receipt } userErrors { message } } }`,
  { v: 60 + Math.round(Math.random() * 1000) / 100 },
);
const { id, receipt } = submitted.submitReturn.return;
const keys = await (await fetch(`${base}/.well-known/jwks.json`)).json();
const { payload, protectedHeader } = await jwtVerify(receipt, createLocalJWKSet(keys), {
  issuer: 'london-vision',
  algorithms: ['EdDSA'],
});
assert.equal(protectedHeader.alg, 'EdDSA');
assert.equal(payload.sub, 'camden');
assert.equal(payload.return, id);
assert.equal(payload.values, 1);
assert.match(payload.digest, /^sha256:[0-9a-f]{64}$/);
// A receipt with one character changed does not verify.
const tampered = receipt.slice(0, -2) + (receipt.at(-2) === 'A' ? 'B' : 'A') + receipt.at(-1);
await assert.rejects(jwtVerify(tampered, createLocalJWKSet(keys), { algorithms: ['EdDSA'] }));
console.log('receipts: verified with jose against /.well-known/jwks.json');
