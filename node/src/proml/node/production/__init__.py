"""Production files for a real consortium, generated from its member list: per organisation, the chain
client (geth Clique or Besu QBFT), Kubo and IPFS Cluster in one private network, and the ProML node, with
their service definitions and the secrets each organisation keeps to itself.

`proml production generate` (cli/…/production.py) is the command; `generate.generate` the entry point.
"""
