// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Clones} from "@openzeppelin/contracts/proxy/Clones.sol";
import {IProMLErrors} from "./interfaces/IProMLErrors.sol";
import {IProMLMembers} from "./interfaces/IProMLMembers.sol";
import {Activity, AssetKind, MemberStatus, ROLE_VALIDATOR} from "./ProvenanceTypes.sol";

/**
 * @title ProvenanceAsset
 * @notice An ML artefact (dataset or model) as a state machine: each workflow activity is a function,
 * and calling it appends a provenance record. The record is kept even when the transition is not
 * allowed from the current state (`accepted = false`), so the history shows who tried what, when.
 *
 * @dev Instances are EIP-1167 clones made by the ProML registry with immutable arguments
 * `abi.encodePacked(owner, ancestors)`: the owner and the ancestors live in the clone's code, which
 * is far cheaper to write and to read than storage. Storage holds one word that every record reads
 * and writes: the head of the hash chain (224 bits), the current state and the record count.
 *
 * The hash chain: `head_n = bytes28(keccak256(abi.encode(head_{n-1}, recordHash_n)))` with
 * `head_{-1} = 0` and `recordHash_n = keccak256(abi.encode(asset, seq, actor, activity, fromState,
 * toState, accepted, recordDigest, keccak256(recordCID), keccak256(abi.encodePacked(inputs)),
 * keccak256(abi.encodePacked(outputs))))`. Anyone can recompute it from the `ProvenanceRecorded`
 * events. A 224-bit head keeps the chain in the same storage word as the state and the count (one
 * storage write per record instead of two); forging a history with the same head is a 224-bit
 * second-preimage problem.
 */
abstract contract ProvenanceAsset is IProMLErrors {
    /// @notice The ProML registry that created this asset and answers membership questions.
    address public immutable registry;

    uint256 private constant COUNT_MASK = (1 << 24) - 1;
    uint256 private constant STATE_SHIFT = 24;
    uint256 private constant OWNER_BYTES = 20;

    /// @notice The most records an asset can hold (the count is 24-bit).
    uint256 public constant MAX_RECORDS = COUNT_MASK;

    /// @dev head (bits 32-255) | state (24-31) | count (0-23). An implementation holds `MAX_RECORDS`
    /// as its count, which locks it: it can neither be initialised nor record anything.
    uint256 private _chain;
    mapping(address account => bool) private _contributors;

    /**
     * @notice Emitted for every provenance record, accepted or not.
     * @param asset This asset.
     * @param seq The record's position in this asset's history; the registration is 0.
     * @param actor The organisation that signed the record.
     * @param activity The workflow activity (see {Activity}).
     * @param fromState The state before the record.
     * @param toState The state after the record; equal to `fromState` when not accepted.
     * @param accepted Whether the transition was allowed from `fromState`.
     * @param recordDigest Digest of the full record document stored off chain.
     * @param recordCID IPFS CID of the record document, as bytes.
     * @param inputs Content digests of input files, or asset addresses as bytes32.
     * @param outputs Content digests of output files, or asset addresses as bytes32.
     * @param prevHead The hash-chain head before this record.
     */
    event ProvenanceRecorded(
        address indexed asset,
        uint256 seq,
        address indexed actor,
        Activity indexed activity,
        uint8 fromState,
        uint8 toState,
        bool accepted,
        bytes32 recordDigest,
        bytes recordCID,
        bytes32[] inputs,
        bytes32[] outputs,
        bytes28 prevHead
    );

    /// @notice Emitted when the owner lets `account` record activities on this asset.
    event ContributorAdded(address indexed account);

    /// @notice Emitted when the owner withdraws that permission.
    event ContributorRemoved(address indexed account);

    /// @dev The caller is not the registry.
    error NotRegistry(address caller);
    /// @dev The asset was initialised already, or is an implementation, which is locked.
    error AlreadyInitialized();
    /// @dev `account` is neither the owner nor a contributor of this asset.
    error NotOwnerOrContributor(address account);
    /// @dev Only the owner may do this.
    error NotOwner(address account);
    /// @dev The asset holds `MAX_RECORDS` records already.
    error RecordLimitReached();

    /// @param registry_ The ProML registry; implementations are deployed by it.
    constructor(address registry_) {
        registry = registry_;
        // The implementation itself is never initialised: only clones are.
        _chain = MAX_RECORDS;
    }

    /// @dev Only the registry that created this asset.
    modifier onlyRegistry() {
        if (msg.sender != registry) revert NotRegistry(msg.sender);
        _;
    }

    /**
     * @notice Called once by the registry right after cloning; appends the registration record (seq 0).
     * @param contentDigest Digest of the asset's content (zero for a model not yet trained).
     * @param recordDigest Digest of the registration record document.
     * @param recordCID CID of the registration record document.
     */
    function initialize(
        bytes32 contentDigest,
        bytes32 recordDigest,
        bytes calldata recordCID
    ) external onlyRegistry {
        if (_chain != 0) revert AlreadyInitialized();
        bytes32[] memory inputs = _ancestorsAsBytes32();
        bytes32[] memory outputs = new bytes32[](1);
        outputs[0] = contentDigest;
        _append(owner(), Activity.Register, 0, true, recordDigest, recordCID, inputs, outputs);
    }

    /**
     * @notice Records `activity` for `actor` on behalf of the registry's `recordBatch`, which has
     * already looked up the actor's membership. Rollback and anchor take extra arguments and are not
     * batched.
     * @param actor The organisation that signed the batch.
     * @param status The actor's membership status, as the registry holds it.
     * @param roles The actor's role bits, as the registry holds them.
     * @param activity The workflow activity.
     * @param recordDigest Digest of the record document.
     * @param recordCID CID of the record document.
     * @param inputs Content digests of input files, or asset addresses as bytes32.
     * @param outputs Content digests of output files, or asset addresses as bytes32.
     * @return accepted Whether the transition was allowed.
     */
    function recordFromRegistry(
        address actor,
        MemberStatus status,
        uint8 roles,
        Activity activity,
        bytes32 recordDigest,
        bytes calldata recordCID,
        bytes32[] calldata inputs,
        bytes32[] calldata outputs
    ) external onlyRegistry returns (bool accepted) {
        _authorize(actor, status, roles, activity);
        return _recordActivity(actor, activity, recordDigest, recordCID, inputs, outputs);
    }

    /**
     * @notice Lets `account` record activities on this asset. Owner only, while an active member.
     * @param account The organisation to let in; not the zero address.
     */
    function addContributor(address account) external {
        _checkActiveOwner();
        if (account == address(0)) revert ZeroAddress();
        _contributors[account] = true;
        emit ContributorAdded(account);
    }

    /**
     * @notice Withdraws `account`'s permission to record activities. Owner only, while an active member.
     * @param account The contributor to remove.
     */
    function removeContributor(address account) external {
        _checkActiveOwner();
        delete _contributors[account];
        emit ContributorRemoved(account);
    }

    /// @notice The organisation that registered this asset.
    function owner() public view returns (address) {
        return address(bytes20(Clones.fetchCloneArgs(address(this))));
    }

    /// @notice The assets this one derives from (parent datasets, base models), set at registration.
    function ancestors() public view returns (address[] memory result) {
        bytes32[] memory words = _ancestorsAsBytes32();
        result = new address[](words.length);
        for (uint256 i = 0; i < words.length; ++i) {
            result[i] = address(uint160(uint256(words[i])));
        }
    }

    /**
     * @notice Whether `account` may record activities as a contributor.
     * @param account Any address.
     */
    function isContributor(address account) external view returns (bool) {
        return _contributors[account];
    }

    /// @notice The current state (see docs/contracts.md for the names of each kind's states).
    function state() public view returns (uint8) {
        return uint8(_chain >> STATE_SHIFT);
    }

    /// @notice The number of records, the registration included.
    function recordCount() public view returns (uint256) {
        return _chain & COUNT_MASK;
    }

    /// @notice The head of the hash chain over all records.
    function head() public view returns (bytes28) {
        return bytes28(bytes32(_chain));
    }

    /// @notice Dataset or model.
    function kind() external pure virtual returns (AssetKind);

    /**
     * @dev The transition table of the asset kind: whether `activity` exists for this kind, whether it is
     * allowed from `fromState`, and the state it leads to.
     */
    function _transition(
        Activity activity,
        uint8 fromState
    ) internal pure virtual returns (bool supported, bool allowed, uint8 toState);

    /// @dev Records an ordinary activity for the caller, after checking it may.
    function _recordCallerActivity(
        Activity activity,
        bytes32 recordDigest,
        bytes calldata recordCID,
        bytes32[] calldata inputs,
        bytes32[] calldata outputs
    ) internal returns (bool accepted) {
        _authorizeCaller(activity);
        return _recordActivity(msg.sender, activity, recordDigest, recordCID, inputs, outputs);
    }

    /// @dev Looks up the caller's membership in the registry and checks it may record `activity`.
    function _authorizeCaller(Activity activity) internal view {
        (MemberStatus status, uint8 roles) = IProMLMembers(registry).memberStatus(msg.sender);
        _authorize(msg.sender, status, roles, activity);
    }

    /**
     * @dev Active members only; validation needs the VALIDATOR role (and needs nothing else, so that a
     * third party can validate); everything else needs the owner or a contributor.
     */
    function _authorize(address actor, MemberStatus status, uint8 roles, Activity activity) internal view {
        if (status == MemberStatus.None) revert NotAMember(actor);
        if (status == MemberStatus.Suspended) revert SuspendedMember(actor);
        if (activity == Activity.Validate) {
            if (roles & ROLE_VALIDATOR == 0) revert MissingRole(actor, ROLE_VALIDATOR);
            return;
        }
        if (actor != owner() && !_contributors[actor]) revert NotOwnerOrContributor(actor);
    }

    /// @dev Appends a record of an ordinary activity, accepted if the transition table allows it.
    function _recordActivity(
        address actor,
        Activity activity,
        bytes32 recordDigest,
        bytes calldata recordCID,
        bytes32[] calldata inputs,
        bytes32[] calldata outputs
    ) internal returns (bool accepted) {
        (bool supported, bool allowed, uint8 toState) = _transition(activity, state());
        if (!supported) revert UnsupportedActivity(activity);
        _append(actor, activity, toState, allowed, recordDigest, recordCID, inputs, outputs);
        return allowed;
    }

    /// @dev Appends one record: the event, and the new head, count and, if accepted, state.
    function _append(
        address actor,
        Activity activity,
        uint8 toState,
        bool accepted,
        bytes32 recordDigest,
        bytes calldata recordCID,
        bytes32[] memory inputs,
        bytes32[] memory outputs
    ) internal {
        uint256 chain = _chain;
        uint256 seq = chain & COUNT_MASK;
        if (seq == MAX_RECORDS) revert RecordLimitReached();
        uint8 fromState = uint8(chain >> STATE_SHIFT);
        if (!accepted) toState = fromState;

        bytes28 prevHead = bytes28(bytes32(chain));
        bytes32 recordHash = _recordHash(
            seq,
            actor,
            activity,
            fromState,
            toState,
            accepted,
            recordDigest,
            keccak256(recordCID),
            keccak256(abi.encodePacked(inputs)),
            keccak256(abi.encodePacked(outputs))
        );
        bytes28 newHead = _nextHead(prevHead, recordHash);
        _chain = uint256(bytes32(newHead)) | (uint256(toState) << STATE_SHIFT) | (seq + 1);

        emit ProvenanceRecorded(
            address(this),
            seq,
            actor,
            activity,
            fromState,
            toState,
            accepted,
            recordDigest,
            recordCID,
            inputs,
            outputs,
            prevHead
        );
    }

    /// @dev The hash of one record, as the chain commits to it.
    function _recordHash(
        uint256 seq,
        address actor,
        Activity activity,
        uint8 fromState,
        uint8 toState,
        bool accepted,
        bytes32 recordDigest,
        bytes32 recordCIDHash,
        bytes32 inputsHash,
        bytes32 outputsHash
    ) internal view returns (bytes32) {
        return
            keccak256(
                abi.encode(
                    address(this),
                    seq,
                    actor,
                    activity,
                    fromState,
                    toState,
                    accepted,
                    recordDigest,
                    recordCIDHash,
                    inputsHash,
                    outputsHash
                )
            );
    }

    /// @dev One link of the hash chain.
    function _nextHead(bytes28 prevHead, bytes32 recordHash) internal pure returns (bytes28) {
        return bytes28(keccak256(abi.encode(prevHead, recordHash)));
    }

    /// @dev A suspended owner can no longer act, and so can no longer manage contributors either.
    function _checkActiveOwner() internal view {
        if (msg.sender != owner()) revert NotOwner(msg.sender);
        (MemberStatus status, ) = IProMLMembers(registry).memberStatus(msg.sender);
        if (status == MemberStatus.Suspended) revert SuspendedMember(msg.sender);
    }

    /// @dev The ancestors from the clone's immutable arguments, one 32-byte word each after the owner.
    function _ancestorsAsBytes32() private view returns (bytes32[] memory words) {
        bytes memory args = Clones.fetchCloneArgs(address(this));
        uint256 count = (args.length - OWNER_BYTES) / 32;
        words = new bytes32[](count);
        for (uint256 i = 0; i < count; ++i) {
            bytes32 word;
            assembly ("memory-safe") {
                word := mload(add(add(args, 0x20), add(OWNER_BYTES, mul(i, 0x20))))
            }
            words[i] = word;
        }
    }
}
