"""The HTTP edge of the API, below server.py: GraphQL over HTTP (graphql_http.py), the request
body limit (middleware.py) and an access log without query strings (access_log.py)."""
