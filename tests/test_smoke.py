"""The server answers, and a card bought through the services shows up in the wallet."""

from services.ledger import verify_ledger
from tests.support import buy_card, data_of, gql, make_merchant, make_user, redeem_fen, token_for

CATEGORIES = "{ categories { code name } }"
WALLET = """
{
  wallet {
    totalBalance
    totalCashValue
    cards { totalCount edges { node { balance cashValue status merchant { name } } } }
  }
}
"""


async def test_categories_come_from_migrations(client):
    result = data_of(await gql(client, CATEGORIES))
    assert {"code": "LAUNDRY", "name": "洗衣"} in result["categories"]


async def test_wallet_shows_a_redeemed_card(client):
    world = await make_merchant()
    consumer = await make_user()
    bought = await buy_card(consumer, world)
    await redeem_fen(world, bought.card.id, consumer, 10_000)

    wallet = data_of(await gql(client, WALLET, token=token_for(consumer)))["wallet"]

    assert wallet["totalBalance"] == "900.00"
    assert wallet["totalCashValue"] == "630.00"
    assert wallet["cards"]["edges"][0]["node"]["merchant"]["name"] == world.merchant.name
    assert (await verify_ledger()).problems == []


async def test_chinese_text_goes_out_as_utf8_not_escapes(client):
    response = await client.post("/graphql", json={"query": CATEGORIES})

    assert response.headers["content-type"].startswith("application/json")
    assert '"name":"洗衣"' in response.content.decode("utf-8")
