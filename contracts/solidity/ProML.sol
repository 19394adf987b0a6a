// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Clones} from "@openzeppelin/contracts/proxy/Clones.sol";
import {DatasetAsset} from "./DatasetAsset.sol";
import {ModelAsset} from "./ModelAsset.sol";
import {ProvenanceAsset} from "./ProvenanceAsset.sol";
import {IProMLMembers} from "./interfaces/IProMLMembers.sol";
import {
    Activity,
    AssetKind,
    MemberStatus,
    ALL_ROLES,
    ROLE_DATA_ADMIN,
    ROLE_MODEL_DEVELOPER
} from "./ProvenanceTypes.sol";

/**
 * @title ProML
 * @notice The consortium's registry, factory and governance. Members are organisations with roles;
 * admitting, suspending or re-rolling a member, and changing the approval threshold, are proposals
 * that active members approve. The deployer is the only member at bootstrap and holds every role;
 * from the second member on, no single organisation decides alone.
 *
 * Datasets and models are EIP-1167 clones of two implementations that this contract deploys in its
 * constructor; the clone's immutable arguments carry its owner and ancestors.
 */
contract ProML is IProMLMembers {
    enum ProposalKind {
        AddMember,
        RemoveMember,
        ChangeRoles,
        ChangeThreshold
    }

    struct Member {
        MemberStatus status;
        uint8 roles;
        string name;
    }

    struct Proposal {
        ProposalKind kind;
        bool executed;
        uint8 roles;
        uint16 thresholdBps;
        uint32 approvals;
        address target;
        address proposer;
        string name;
    }

    /// @dev Registry entry of an asset: its kind and its position in the list of all assets.
    struct AssetEntry {
        AssetKind kind;
        uint64 index;
    }

    /// @notice One record of a `recordBatch`.
    struct BatchRecord {
        address asset;
        Activity activity;
        bytes32 recordDigest;
        bytes recordCID;
        bytes32[] inputs;
        bytes32[] outputs;
    }

    /// @notice Basis points in a whole; the threshold is a fraction of the active members in these.
    uint16 public constant BPS = 10_000;

    /// @notice The implementation that dataset clones delegate to. Locked against initialisation.
    address public immutable datasetImplementation;
    /// @notice The implementation that model clones delegate to. Locked against initialisation.
    address public immutable modelImplementation;

    /**
     * @notice A proposal executes when `approvals * BPS > activeMembers * thresholdBps`. The default,
     * 5000, means more than half of the active members.
     */
    uint16 public thresholdBps = 5_000;
    /// @notice The number of members whose status is Active.
    uint32 public activeMemberCount;

    mapping(address account => Member) private _members;
    address[] private _memberList;
    Proposal[] private _proposals;
    mapping(uint256 proposalId => mapping(address member => bool)) private _approved;
    mapping(address asset => AssetEntry) private _assets;
    address[] private _assetList;

    /// @notice `member` joined, or was reinstated, with `roles`.
    event MemberAdded(address indexed member, string name, uint8 roles);
    /// @notice `member` was suspended: it can no longer act, and its records stay.
    event MemberRemoved(address indexed member);
    /// @notice `member`'s roles changed.
    event MemberRolesChanged(address indexed member, uint8 oldRoles, uint8 newRoles);
    /// @notice The approval threshold changed.
    event ThresholdChanged(uint16 oldThresholdBps, uint16 newThresholdBps);
    /// @notice A member proposed a change; the proposer's approval is counted at once.
    event ProposalCreated(
        uint256 indexed proposalId,
        address indexed proposer,
        ProposalKind kind,
        address target,
        string name,
        uint8 roles,
        uint16 thresholdBps
    );
    /// @notice `approver` approved; `approvals` is the new count.
    event ProposalApproved(uint256 indexed proposalId, address indexed approver, uint32 approvals);
    /// @notice The proposal reached the threshold and took effect.
    event ProposalExecuted(uint256 indexed proposalId);
    /// @notice A dataset or model was registered; its registration record is its seq 0.
    event AssetRegistered(
        address indexed asset,
        AssetKind indexed kind,
        address indexed owner,
        bytes32 contentDigest,
        bytes32 recordDigest,
        bytes recordCID
    );

    /// @dev `account` is not a member.
    error NotAMember(address account);
    /// @dev `account` is a suspended member.
    error MemberSuspended(address account);
    /// @dev `account` lacks the role bits `role`.
    error MissingRole(address account, uint8 role);
    /// @dev `account` is already an active member.
    error AlreadyMember(address account);
    /// @dev `account` is not an active member, so it cannot be suspended or re-rolled.
    error NotActiveMember(address account);
    /// @dev Suspending the last active member would leave the consortium without anyone to act.
    error LastActiveMember(address account);
    /// @dev `roles` has bits outside the four defined roles.
    error InvalidRoles(uint8 roles);
    /// @dev The threshold must be below BPS, or no proposal could ever pass.
    error InvalidThreshold(uint16 thresholdBps);
    /// @dev A member name must not be empty.
    error EmptyName();
    /// @dev The zero address cannot be a member.
    error ZeroAddress();
    /// @dev There is no proposal `proposalId`.
    error UnknownProposal(uint256 proposalId);
    /// @dev The proposal has already taken effect.
    error ProposalAlreadyExecuted(uint256 proposalId);
    /// @dev `member` has already approved the proposal.
    error AlreadyApproved(uint256 proposalId, address member);
    /// @dev `ancestor` is not a registered asset of a kind this asset may derive from.
    error InvalidAncestor(address ancestor);
    /// @dev A dataset needs the digest of its content.
    error EmptyContentDigest();
    /// @dev `asset` is not registered here.
    error NotAnAsset(address asset);
    /// @dev A batch must hold at least one record.
    error EmptyBatch();
    /// @dev An index past the end of a list.
    error IndexOutOfRange(uint256 index, uint256 length);

    /**
     * @param founderName The name of the deploying organisation, the first member, with every role.
     */
    constructor(string memory founderName) {
        datasetImplementation = address(new DatasetAsset(address(this)));
        modelImplementation = address(new ModelAsset(address(this)));
        _addMember(msg.sender, founderName, ALL_ROLES);
    }

    // ---------------------------------------------------------------- governance

    /**
     * @notice Proposes to admit `account` with `roles`, or to reinstate it if suspended.
     * @return proposalId The new proposal; it may have executed already if the proposer's approval suffices.
     */
    function proposeAddMember(address account, string calldata name, uint8 roles) external returns (uint256 proposalId) {
        if (account == address(0)) revert ZeroAddress();
        if (bytes(name).length == 0) revert EmptyName();
        _checkRoles(roles);
        if (_members[account].status == MemberStatus.Active) revert AlreadyMember(account);
        return _propose(ProposalKind.AddMember, account, name, roles, 0);
    }

    /**
     * @notice Proposes to suspend `account`: it can no longer act, and everything it recorded stays.
     * @return proposalId The new proposal.
     */
    function proposeRemoveMember(address account) external returns (uint256 proposalId) {
        _checkRemovable(account);
        return _propose(ProposalKind.RemoveMember, account, "", 0, 0);
    }

    /**
     * @notice Proposes to give active member `account` exactly `roles`.
     * @return proposalId The new proposal.
     */
    function proposeChangeRoles(address account, uint8 roles) external returns (uint256 proposalId) {
        _checkRoles(roles);
        if (_members[account].status != MemberStatus.Active) revert NotActiveMember(account);
        return _propose(ProposalKind.ChangeRoles, account, "", roles, 0);
    }

    /**
     * @notice Proposes a new approval threshold in basis points of the active members (strictly more
     * than that fraction must approve). 0 lets any single member decide; 9999 asks for everyone up to
     * 9,999 members.
     * @return proposalId The new proposal.
     */
    function proposeThreshold(uint16 newThresholdBps) external returns (uint256 proposalId) {
        if (newThresholdBps >= BPS) revert InvalidThreshold(newThresholdBps);
        return _propose(ProposalKind.ChangeThreshold, address(0), "", 0, newThresholdBps);
    }

    /**
     * @notice Approves proposal `proposalId`; executes it when approvals pass the threshold.
     * @return executed Whether the proposal took effect with this approval.
     */
    function approve(uint256 proposalId) external returns (bool executed) {
        _checkActive(msg.sender);
        if (proposalId >= _proposals.length) revert UnknownProposal(proposalId);
        return _approve(proposalId);
    }

    // ---------------------------------------------------------------- factory

    /**
     * @notice Registers a dataset: creates its contract and appends its registration record.
     * Needs DATA_ADMIN. Ancestors must be registered datasets.
     * @param contentDigest Digest of the dataset's content.
     * @param recordDigest Digest of the registration record document.
     * @param recordCID CID of the registration record document.
     * @param ancestors Datasets this one derives from.
     * @return asset The dataset's contract.
     */
    function registerDataset(
        bytes32 contentDigest,
        bytes32 recordDigest,
        bytes calldata recordCID,
        address[] calldata ancestors
    ) external returns (address asset) {
        _checkRole(msg.sender, ROLE_DATA_ADMIN);
        if (contentDigest == bytes32(0)) revert EmptyContentDigest();
        for (uint256 i = 0; i < ancestors.length; ++i) {
            if (_assets[ancestors[i]].kind != AssetKind.Dataset) revert InvalidAncestor(ancestors[i]);
        }
        return _register(AssetKind.Dataset, datasetImplementation, contentDigest, recordDigest, recordCID, ancestors);
    }

    /**
     * @notice Registers a model: creates its contract and appends its registration record.
     * Needs MODEL_DEVELOPER. Ancestors must be registered datasets or models (base models).
     * @param contentDigest Digest of the model's content, or zero before it is trained.
     * @param recordDigest Digest of the registration record document.
     * @param recordCID CID of the registration record document.
     * @param ancestors Datasets and base models this one derives from.
     * @return asset The model's contract.
     */
    function registerModel(
        bytes32 contentDigest,
        bytes32 recordDigest,
        bytes calldata recordCID,
        address[] calldata ancestors
    ) external returns (address asset) {
        _checkRole(msg.sender, ROLE_MODEL_DEVELOPER);
        for (uint256 i = 0; i < ancestors.length; ++i) {
            if (_assets[ancestors[i]].kind == AssetKind.None) revert InvalidAncestor(ancestors[i]);
        }
        return _register(AssetKind.Model, modelImplementation, contentDigest, recordDigest, recordCID, ancestors);
    }

    /**
     * @notice Appends several records, to one or several assets, in one transaction, each signed by
     * the caller and checked as if the caller had called the asset itself. Rollback and anchor are not
     * batched. The batch is atomic: one refused record reverts all.
     * @return accepted For each record, whether its transition was allowed.
     */
    function recordBatch(BatchRecord[] calldata records) external returns (bool[] memory accepted) {
        if (records.length == 0) revert EmptyBatch();
        Member storage member = _members[msg.sender];
        (MemberStatus status, uint8 roles) = (member.status, member.roles);
        accepted = new bool[](records.length);
        for (uint256 i = 0; i < records.length; ++i) {
            BatchRecord calldata r = records[i];
            if (_assets[r.asset].kind == AssetKind.None) revert NotAnAsset(r.asset);
            if (r.activity == Activity.Register || r.activity == Activity.Rollback || r.activity == Activity.Anchor) {
                revert ProvenanceAsset.UnsupportedActivity(r.activity);
            }
            accepted[i] = ProvenanceAsset(r.asset).recordFromRegistry(
                msg.sender,
                status,
                roles,
                r.activity,
                r.recordDigest,
                r.recordCID,
                r.inputs,
                r.outputs
            );
        }
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IProMLMembers
    function memberStatus(address account) external view returns (MemberStatus status, uint8 roles) {
        Member storage member = _members[account];
        return (member.status, member.roles);
    }

    /// @notice Name, status and roles of `account`.
    function member(address account) external view returns (string memory name, MemberStatus status, uint8 roles) {
        Member storage m = _members[account];
        return (m.name, m.status, m.roles);
    }

    /// @notice How many organisations were ever admitted (suspended ones included).
    function memberCount() external view returns (uint256) {
        return _memberList.length;
    }

    /// @notice The `index`-th organisation ever admitted.
    function memberAt(uint256 index) external view returns (address) {
        if (index >= _memberList.length) revert IndexOutOfRange(index, _memberList.length);
        return _memberList[index];
    }

    /// @notice Approvals a proposal needs with the current members and threshold.
    function requiredApprovals() public view returns (uint256) {
        return (uint256(activeMemberCount) * thresholdBps) / BPS + 1;
    }

    /// @notice How many proposals were ever made.
    function proposalCount() external view returns (uint256) {
        return _proposals.length;
    }

    /// @notice Proposal `proposalId` as stored.
    function proposal(uint256 proposalId) external view returns (Proposal memory) {
        if (proposalId >= _proposals.length) revert UnknownProposal(proposalId);
        return _proposals[proposalId];
    }

    /// @notice Whether `account` approved proposal `proposalId`.
    function hasApproved(uint256 proposalId, address account) external view returns (bool) {
        return _approved[proposalId][account];
    }

    /// @notice Whether `asset` is a dataset or model registered here.
    function isAsset(address asset) external view returns (bool) {
        return _assets[asset].kind != AssetKind.None;
    }

    /// @notice The kind of `asset` (None if it is not registered here).
    function assetKind(address asset) external view returns (AssetKind) {
        return _assets[asset].kind;
    }

    /// @notice How many assets are registered.
    function assetCount() external view returns (uint256) {
        return _assetList.length;
    }

    /// @notice The `index`-th registered asset, in order of registration.
    function assetAt(uint256 index) external view returns (address) {
        if (index >= _assetList.length) revert IndexOutOfRange(index, _assetList.length);
        return _assetList[index];
    }

    // ---------------------------------------------------------------- internals

    function _register(
        AssetKind kind,
        address implementation,
        bytes32 contentDigest,
        bytes32 recordDigest,
        bytes calldata recordCID,
        address[] calldata ancestors
    ) private returns (address asset) {
        asset = Clones.cloneWithImmutableArgs(implementation, abi.encodePacked(msg.sender, ancestors));
        _assets[asset] = AssetEntry({kind: kind, index: uint64(_assetList.length)});
        _assetList.push(asset);
        emit AssetRegistered(asset, kind, msg.sender, contentDigest, recordDigest, recordCID);
        // The clone is ours and new: initialising it last keeps the registry's own state complete
        // before any outside code runs.
        ProvenanceAsset(asset).initialize(contentDigest, recordDigest, recordCID);
    }

    function _propose(
        ProposalKind kind,
        address target,
        string memory name,
        uint8 roles,
        uint16 newThresholdBps
    ) private returns (uint256 proposalId) {
        _checkActive(msg.sender);
        proposalId = _proposals.length;
        _proposals.push(
            Proposal({
                kind: kind,
                executed: false,
                roles: roles,
                thresholdBps: newThresholdBps,
                approvals: 0,
                target: target,
                proposer: msg.sender,
                name: name
            })
        );
        emit ProposalCreated(proposalId, msg.sender, kind, target, name, roles, newThresholdBps);
        _approve(proposalId);
    }

    function _approve(uint256 proposalId) private returns (bool executed) {
        Proposal storage p = _proposals[proposalId];
        if (p.executed) revert ProposalAlreadyExecuted(proposalId);
        if (_approved[proposalId][msg.sender]) revert AlreadyApproved(proposalId, msg.sender);
        _approved[proposalId][msg.sender] = true;
        uint32 approvals = p.approvals + 1;
        p.approvals = approvals;
        emit ProposalApproved(proposalId, msg.sender, approvals);
        if (approvals < requiredApprovals()) return false;
        p.executed = true;
        _execute(p);
        emit ProposalExecuted(proposalId);
        return true;
    }

    function _execute(Proposal storage p) private {
        if (p.kind == ProposalKind.AddMember) {
            if (_members[p.target].status == MemberStatus.Active) revert AlreadyMember(p.target);
            _addMember(p.target, p.name, p.roles);
        } else if (p.kind == ProposalKind.RemoveMember) {
            _checkRemovable(p.target);
            _members[p.target].status = MemberStatus.Suspended;
            activeMemberCount -= 1;
            emit MemberRemoved(p.target);
        } else if (p.kind == ProposalKind.ChangeRoles) {
            Member storage m = _members[p.target];
            if (m.status != MemberStatus.Active) revert NotActiveMember(p.target);
            uint8 oldRoles = m.roles;
            m.roles = p.roles;
            emit MemberRolesChanged(p.target, oldRoles, p.roles);
        } else {
            uint16 oldThreshold = thresholdBps;
            thresholdBps = p.thresholdBps;
            emit ThresholdChanged(oldThreshold, p.thresholdBps);
        }
    }

    /// @dev Admits `account`, or reinstates it (keeping its place in the member list) with a new name and roles.
    function _addMember(address account, string memory name, uint8 roles) private {
        Member storage m = _members[account];
        if (m.status == MemberStatus.None) _memberList.push(account);
        m.status = MemberStatus.Active;
        m.roles = roles;
        m.name = name;
        activeMemberCount += 1;
        emit MemberAdded(account, name, roles);
    }

    function _checkActive(address account) private view {
        MemberStatus status = _members[account].status;
        if (status == MemberStatus.None) revert NotAMember(account);
        if (status == MemberStatus.Suspended) revert MemberSuspended(account);
    }

    function _checkRole(address account, uint8 role) private view {
        _checkActive(account);
        if (_members[account].roles & role != role) revert MissingRole(account, role);
    }

    function _checkRoles(uint8 roles) private pure {
        if (roles & ~ALL_ROLES != 0) revert InvalidRoles(roles);
    }

    function _checkRemovable(address account) private view {
        if (_members[account].status != MemberStatus.Active) revert NotActiveMember(account);
        if (activeMemberCount == 1) revert LastActiveMember(account);
    }
}
