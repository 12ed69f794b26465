// Apollo Client with its automatic persisted-query link, against a running server:
// `node apollo.mjs http://127.0.0.1:8080/graphql`. The first client sends the hash, is told
// the server does not know it, and sends the text; a second client (a new page load) sends
// the hash alone, by GET, and gets the answer. A field that fails is null beside its error,
// so the cache can still serve the rest.
import { ApolloClient, HttpLink, InMemoryCache, gql } from '@apollo/client/core/index.js';
import { createPersistedQueryLink } from '@apollo/client/link/persisted-queries/index.js';
import { createHash } from 'node:crypto';
import assert from 'node:assert/strict';

const url = process.argv[2] ?? 'http://127.0.0.1:8080/graphql';
const sent = [];
const counting = (input, init) => {
  sent.push({ method: init?.method ?? 'GET', url: String(input), body: init?.body });
  return fetch(input, init);
};
const client = () =>
  new ApolloClient({
    cache: new InMemoryCache(),
    link: createPersistedQueryLink({
      sha256: (text) => createHash('sha256').update(text).digest('hex'),
      useGETForHashedQueries: true,
    }).concat(new HttpLink({ uri: url, fetch: counting })),
  });

// An alias of its own, so that each run's query is new to the server.
const run = `run${process.pid}${Date.now()}`;
const QUERY = gql(`
  query AirQuality($slug: String!) {
    priority(slug: $slug) { number ${run}: title commitments { slug } }
  }
`);

// A new query: hash first, then the text.
const first = await client().query({ query: QUERY, variables: { slug: 'air-quality' } });
assert.equal(first.data.priority.number, 4);
assert.equal(sent.length, 2, `hash then text: ${JSON.stringify(sent)}`);
assert.equal(sent[0].method, 'GET');
assert.ok(sent[0].url.includes('persistedQuery'));
assert.equal(sent[1].method, 'POST');
assert.ok(JSON.parse(sent[1].body).query.includes('AirQuality'));

// Another client: the hash alone, by GET.
sent.length = 0;
const second = await client().query({ query: QUERY, variables: { slug: 'air-quality' } });
assert.deepEqual(second.data, first.data);
assert.equal(sent.length, 1, `the hash alone: ${JSON.stringify(sent)}`);
assert.equal(sent[0].method, 'GET');
assert.ok(!sent[0].url.includes('query=query'), 'the text is not sent again');

// A failed field is null beside its error; the rest of the answer is usable.
const partial = await client().query({
  query: gql`query Partial { return(id: "UmV0dXJuOjE=") { id } priority(slug: "tobacco-control") { number } }`,
  errorPolicy: 'all',
});
assert.equal(partial.data.return, null);
assert.equal(partial.data.priority.number, 5);
assert.equal(partial.errors.length, 1);
assert.equal(partial.errors[0].extensions.code, 'UNAUTHENTICATED');
console.log('Apollo Client: persisted queries and partial answers work');
