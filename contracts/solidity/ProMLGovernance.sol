// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IProMLErrors} from "./interfaces/IProMLErrors.sol";
import {IProMLMembers} from "./interfaces/IProMLMembers.sol";
import {ALL_ROLES, MemberStatus, ProposalKind} from "./ProvenanceTypes.sol";

/**
 * @title ProMLGovernance
 * @notice The consortium's members and the proposals that change them. Members are organisations with
 * roles; admitting, suspending or re-rolling a member, and changing the approval threshold, are
 * proposals that active members approve. The deployer is the only member at bootstrap and holds every
 * role; from the second member on, no single organisation decides alone.
 *
 * @dev The registry (`ProML`) inherits this and checks its callers with `_checkRole`.
 */
abstract contract ProMLGovernance is IProMLMembers, IProMLErrors {
    /// @notice An organisation: whether it may act, what it may do, and its name.
    struct Member {
        MemberStatus status;
        uint8 roles;
        string name;
    }

    /**
     * @notice A proposed change. `target` is the member concerned (zero for a threshold change); `name`
     * and `roles` are used by AddMember and ChangeRoles, `thresholdBps` by ChangeThreshold.
     */
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

    /// @notice Basis points in a whole; the threshold is a fraction of the active members in these.
    uint16 public constant BPS = 10_000;

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

    /// @notice `member` joined, or was reinstated, with `roles`.
    event MemberAdded(address indexed member, string name, uint8 roles);
    /// @notice `member` was suspended: it can no longer act, and its records stay.
    event MemberSuspended(address indexed member);
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
    /// @dev There is no proposal `proposalId`.
    error UnknownProposal(uint256 proposalId);
    /// @dev The proposal has already taken effect.
    error ProposalAlreadyExecuted(uint256 proposalId);
    /// @dev `member` has already approved the proposal.
    error AlreadyApproved(uint256 proposalId, address member);
    /// @dev An index past the end of a list.
    error IndexOutOfRange(uint256 index, uint256 length);

    /// @param founderName The name of the deploying organisation, the first member, with every role.
    constructor(string memory founderName) {
        _addMember(msg.sender, founderName, ALL_ROLES);
    }

    /**
     * @notice Proposes to admit `account` with `roles`, or to reinstate it if suspended.
     * @param account The organisation's address; not the zero address, not an active member.
     * @param name The organisation's name; not empty.
     * @param roles Its role bits (see ProvenanceTypes.sol).
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
     * @param account An active member, not the last one.
     * @return proposalId The new proposal.
     */
    function proposeSuspendMember(address account) external returns (uint256 proposalId) {
        _checkSuspendable(account);
        return _propose(ProposalKind.SuspendMember, account, "", 0, 0);
    }

    /**
     * @notice Proposes to give active member `account` exactly `roles`.
     * @param account An active member.
     * @param roles Its new role bits, replacing the old ones.
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
     * @param newThresholdBps The new threshold, below `BPS`.
     * @return proposalId The new proposal.
     */
    function proposeThreshold(uint16 newThresholdBps) external returns (uint256 proposalId) {
        if (newThresholdBps >= BPS) revert InvalidThreshold(newThresholdBps);
        return _propose(ProposalKind.ChangeThreshold, address(0), "", 0, newThresholdBps);
    }

    /**
     * @notice Approves proposal `proposalId`; executes it when approvals pass the threshold.
     * @param proposalId A pending proposal that the caller, an active member, has not approved yet.
     * @return executed Whether the proposal took effect with this approval.
     */
    function approve(uint256 proposalId) external returns (bool executed) {
        _checkActive(msg.sender);
        if (proposalId >= _proposals.length) revert UnknownProposal(proposalId);
        return _approve(proposalId);
    }

    /// @inheritdoc IProMLMembers
    function memberStatus(address account) external view returns (MemberStatus status, uint8 roles) {
        return _membership(account);
    }

    /**
     * @notice Name, status and roles of `account`.
     * @param account Any address; a non-member has status None.
     */
    function member(address account) external view returns (string memory name, MemberStatus status, uint8 roles) {
        Member storage m = _members[account];
        return (m.name, m.status, m.roles);
    }

    /// @notice How many organisations were ever admitted (suspended ones included).
    function memberCount() external view returns (uint256) {
        return _memberList.length;
    }

    /**
     * @notice The `index`-th organisation ever admitted.
     * @param index Below `memberCount()`.
     */
    function memberAt(uint256 index) external view returns (address) {
        if (index >= _memberList.length) revert IndexOutOfRange(index, _memberList.length);
        return _memberList[index];
    }

    /// @notice How many proposals were ever made.
    function proposalCount() external view returns (uint256) {
        return _proposals.length;
    }

    /**
     * @notice Proposal `proposalId` as stored.
     * @param proposalId Below `proposalCount()`.
     */
    function proposal(uint256 proposalId) external view returns (Proposal memory) {
        if (proposalId >= _proposals.length) revert UnknownProposal(proposalId);
        return _proposals[proposalId];
    }

    /**
     * @notice Whether `account` approved proposal `proposalId`.
     * @param proposalId Any proposal id; an unknown one has no approvals.
     * @param account Any address.
     */
    function hasApproved(uint256 proposalId, address account) external view returns (bool) {
        return _approved[proposalId][account];
    }

    /// @notice Approvals a proposal needs with the current members and threshold.
    function requiredApprovals() public view returns (uint256) {
        return (uint256(activeMemberCount) * thresholdBps) / BPS + 1;
    }

    /// @dev Status and role bits of `account`, for a caller that checks them itself.
    function _membership(address account) internal view returns (MemberStatus status, uint8 roles) {
        Member storage m = _members[account];
        return (m.status, m.roles);
    }

    /// @dev Reverts unless `account` is an active member.
    function _checkActive(address account) internal view {
        MemberStatus status = _members[account].status;
        if (status == MemberStatus.None) revert NotAMember(account);
        if (status == MemberStatus.Suspended) revert SuspendedMember(account);
    }

    /// @dev Reverts unless `account` is an active member holding every bit of `role`.
    function _checkRole(address account, uint8 role) internal view {
        _checkActive(account);
        if (_members[account].roles & role != role) revert MissingRole(account, role);
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
        } else if (p.kind == ProposalKind.SuspendMember) {
            _checkSuspendable(p.target);
            _members[p.target].status = MemberStatus.Suspended;
            activeMemberCount -= 1;
            emit MemberSuspended(p.target);
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

    function _checkRoles(uint8 roles) private pure {
        if (roles & ~ALL_ROLES != 0) revert InvalidRoles(roles);
    }

    function _checkSuspendable(address account) private view {
        if (_members[account].status != MemberStatus.Active) revert NotActiveMember(account);
        if (activeMemberCount == 1) revert LastActiveMember(account);
    }
}
