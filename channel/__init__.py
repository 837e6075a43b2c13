"""Payment channels: what the platform asks of one (channel/interface.py), the WeChat Pay API v3
adapter (channel/wechat.py) and a simulator of WeChat Pay for tests and the demo
(channel/simulator/). Nothing here knows about cards or the ledger."""
