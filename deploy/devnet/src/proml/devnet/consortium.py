"""Found the devnet's consortium: fund the organisations' keys, deploy the registry, admit the members.

Deploying the registry and reading a member are the production ones (`proml.node.consortium`, which
`proml consortium deploy|join` use); funding from anvil's dev accounts, and admitting through governance
from one process that holds every member's key, are the devnet's own. Everything goes through the node's
own `BlockchainProvider` and `Signer` (signed raw transactions, no unlocked accounts), and every step
checks the chain first, so that running it again after a failure finishes the job instead of repeating
it.
"""

from __future__ import annotations

from collections.abc import Sequence

from proml.contracts import calls
from proml.core.workflow import ALL_ROLES, Role
from proml.node.clients.chain import ChainClient
from proml.node.consortium import deploy_registry, member, registry_view
from proml.node.providers.blockchain import BlockchainProvider
from proml.node.providers.signer import Signer

from .anvil import dev_keys

# Every organisation may register data and models and audit; only the founder validates (the demo's A,
# the commissioning company, signs off the models that C trains on B's data).
MEMBER_ROLES = Role.DATA_ADMIN | Role.MODEL_DEVELOPER | Role.AUDITOR
FOUNDER_ROLES = ALL_ROLES
FUNDING = 1_000 * 10**18  # wei: plenty for a development consortium's gas
JOINING_FUNDING = FUNDING // 10  # what the founder gives an organisation that joins later, from its own


class ConsortiumError(RuntimeError):
    pass


def provider(client: ChainClient, private_key: bytes, chain_id: int) -> BlockchainProvider:
    return BlockchainProvider(client, Signer(private_key), chain_id, poll_interval=0.05)


def anvil_bank(client: ChainClient) -> BlockchainProvider:
    """anvil's first dev account, which anvil funds: where an anvil devnet's organisations get gas."""
    return provider(client, dev_keys()[0], client.chain_id())


def fund(bank: BlockchainProvider, addresses: Sequence[str], amount: int = FUNDING) -> None:
    """Top up each address to at least `amount` from `bank`, by signed transfers."""
    client = bank.client
    for address in addresses:
        missing = amount - client.get_balance(address)
        if missing > 0:
            bank.wait_for_receipt(bank.send(address, b"", value=missing))  # a failure raises


def _uint(client: ChainClient, registry: str, name: str) -> int:
    (value,) = registry_view(client, registry, name)
    return int(value)


def admit(
    registry: str,
    members: Sequence[tuple[str, BlockchainProvider]],
    newcomer: tuple[str, str],
    roles: int = MEMBER_ROLES,
) -> None:
    """Admit `newcomer` (name, address) through governance, unless it is an active member already.

    The first of `members` (active members, with their providers) proposes, which counts as its
    approval; the next ones approve until the proposal reaches the threshold
    (`approvals * 10000 > activeMembers * thresholdBps`, which the contract's `requiredApprovals()` says).
    """
    name, address = newcomer
    proposer = members[0][1]
    client = proposer.client
    if member(client, registry, address).active:
        return
    required = _uint(client, registry, "requiredApprovals")
    if required > len(members):
        raise ConsortiumError(f"admitting {name} needs {required} approvals, only {len(members)} members")
    proposal_id = _uint(client, registry, "proposalCount")
    proposer.transact(registry, calls.function("ProML", "proposeAddMember").encode(address, name, int(roles)))
    for _, approver in members[1:required]:
        approver.transact(registry, calls.function("ProML", "approve").encode(proposal_id))
    if not member(client, registry, address).active:
        raise ConsortiumError(f"proposal {proposal_id} to admit {name} did not execute")


def found(client: ChainClient, registry: str | None, orgs: Sequence[tuple[str, bytes]]) -> str:
    """On anvil: fund `orgs` (name, private key), deploy the registry from the first one unless `registry`
    has code already, admit the others one by one; the registry's address."""
    bank = anvil_bank(client)
    founders = [(name, provider(client, key, bank.chain_id)) for name, key in orgs]
    fund(bank, [p.address for _, p in founders])
    if not registry or not client.get_code(registry):
        registry = deploy_registry(founders[0][1], founders[0][0])
    for count in range(1, len(founders)):
        name, newcomer = founders[count]
        admit(registry, founders[:count], (name, newcomer.address))
    return registry
