// Apollo Client with its persisted-queries link against a running Anfu server, driven by
// tests/test_clients.py: node apollo-apq.mjs <graphql url> <unique suffix> <merchant name>
//
// A first client sends a query as a hash alone over GET, is told PersistedQueryNotFound,
// sends the document with its hash, and gets the data; a second client (nothing cached)
// then gets the same data from the hash alone. Prints one JSON object: every HTTP exchange
// (method, whether the document or the hash went along, status, error codes) and both answers.
import { createHash } from "node:crypto";

import { ApolloClient, HttpLink, InMemoryCache, gql } from "@apollo/client";
import { PersistedQueryLink } from "@apollo/client/link/persisted-queries";

const [url, suffix, search] = process.argv.slice(2);
if (!url || !suffix || !search) {
  console.error("usage: node apollo-apq.mjs <graphql url> <unique suffix> <merchant name>");
  process.exit(2);
}

// The suffix makes the document new to the server (Redis keeps APQ documents for a day).
const MERCHANTS = gql`
  query ApolloMerchants($search: String!, $first: Int!) {
    merchants(filter: { search: $search }, first: $first) {
      totalCount
      edges {
        node {
          id
          name
          creditRating {
            grade
            score
          }
        }
      }
    }
    apq_${suffix}: categories {
      code
    }
  }
`;

const exchanges = [];

async function recordingFetch(input, init = {}) {
  const requestUrl = new URL(typeof input === "string" ? input : input.url);
  const method = (init.method || "GET").toUpperCase();
  const body = typeof init.body === "string" ? JSON.parse(init.body) : {};
  const extensions =
    body.extensions ||
    (requestUrl.searchParams.has("extensions")
      ? JSON.parse(requestUrl.searchParams.get("extensions"))
      : {});
  const response = await fetch(input, init);
  const text = await response.clone().text();
  let errors = [];
  try {
    errors = (JSON.parse(text).errors || []).map((error) => error.extensions?.code);
  } catch {
    errors = ["(not JSON)"];
  }
  exchanges.push({
    method,
    sentQuery: Boolean(body.query || requestUrl.searchParams.get("query")),
    sentHash: Boolean(extensions.persistedQuery?.sha256Hash),
    status: response.status,
    errors,
  });
  return response;
}

function client() {
  const persisted = new PersistedQueryLink({
    sha256: (text) => createHash("sha256").update(text).digest("hex"),
    useGETForHashedQueries: true,
  });
  return new ApolloClient({
    link: persisted.concat(new HttpLink({ uri: url, fetch: recordingFetch })),
    cache: new InMemoryCache(),
  });
}

async function run(apollo) {
  const result = await apollo.query({
    query: MERCHANTS,
    variables: { search, first: 2 },
    fetchPolicy: "network-only",
  });
  return { data: result.data, error: result.error ? String(result.error) : null };
}

try {
  const first = await run(client());
  const firstExchanges = exchanges.length;
  const second = await run(client());
  console.log(JSON.stringify({ first, second, firstExchanges, exchanges }));
} catch (error) {
  console.log(JSON.stringify({ failure: String(error), exchanges }));
  process.exit(1);
}
