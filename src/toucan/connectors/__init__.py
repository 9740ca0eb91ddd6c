"""Connectors: read data from databases, HTTP APIs and MongoDB into Arrow tables.

`registry` maps a `DATA_PROVIDERS` type to its class (one module per family: `sql`,
`http_api`, `mongo`); `base` is the interface they share; `network` guards outgoing HTTP
against SSRF; `extras` installs the optional drivers (`toucan-ctl install_connectors`).
Importing this package loads no driver.
"""
