"""The GraphQL documents the benchmarks send."""

from __future__ import annotations

# The anonymous home page: twenty merchants with their rating, category, stores and products.
HOME = """
query HomeMerchants($first: Int!) {
  merchants(first: $first) {
    totalCount
    edges { node {
      name creditRating { grade score } category { name }
      stores(first: 10) { totalCount edges { node { name district } } }
      cardProducts(first: 10) { edges { node { name price faceValue soldCount } } }
    } }
  }
}
"""
STATS = """
{ supervisionStats { merchantsByStatus { status count } activeCards escrowHeld
  outstandingLiability salesTotal redemptionsTotal refundsTotal openComplaints openAlerts
  daily { date sales redemptions refunds } } }
"""
LOGIN = "mutation L($p: String!, $w: String!) { login(phone: $p, password: $w) { accessToken } }"
REGISTER = """
mutation Register($input: RegisterConsumerInput!) { registerConsumer(input: $input) { accessToken } }
"""
# The demo's laundry chain: its first store and first product on sale.
CHAIN = """
{ merchants(filter: {search: "淮安洁净洗衣连锁"}, first: 1) { edges { node {
  stores(first: 1) { edges { node { id } } }
  cardProducts(status: ACTIVE, first: 1) { edges { node { id } } } } } } }
"""
BUY = """
mutation Buy($product: ID!, $key: String!) {
  purchaseCard(productId: $product, idempotencyKey: $key) { card { id } }
}
"""
CODE = "mutation Code($card: ID!) { issueRedemptionCode(cardId: $card) { code } }"
REDEEM = """
mutation Redeem($code: String!, $store: ID!, $key: String!) {
  redeem(code: $code, storeId: $store, amount: "0.01", idempotencyKey: $key) { card { id } }
}
"""
FIRST_MERCHANT = "{ merchants(first: 1) { edges { node { id } } } }"
