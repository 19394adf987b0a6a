// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

// The enums, role bits and structs that the registry, its governance and the assets share.

/// @dev The kind of an asset contract. `None` marks an address that is not a registered asset.
enum AssetKind {
    None,
    Dataset,
    Model
}

/// @dev Every workflow activity of both asset kinds. Its number is what `ProvenanceRecorded.activity`
/// carries; docs/contracts.md lists which kind accepts which activity.
enum Activity {
    Register,
    Collect,
    Label,
    Preprocess,
    Publish,
    Deprecate,
    SelectData,
    EngineerFeatures,
    Train,
    Evaluate,
    Validate,
    Deploy,
    Retire,
    Rollback,
    Anchor
}

/// @dev Where a consortium member stands. Only `Active` members may act.
enum MemberStatus {
    None,
    Active,
    Suspended
}

/// @dev What a governance proposal changes. Its number is what `ProposalCreated.kind` carries.
enum ProposalKind {
    AddMember,
    SuspendMember,
    ChangeRoles,
    ChangeThreshold
}

/// @dev When a Merkle root was anchored relative to training (docs/contracts.md, `anchor`).
enum AnchorPhase {
    BeforeTraining,
    AfterTraining
}

/// @dev Role bits of a member. AUDITOR is a read-only marker for display.
uint8 constant ROLE_DATA_ADMIN = 1;
uint8 constant ROLE_MODEL_DEVELOPER = 2;
uint8 constant ROLE_VALIDATOR = 4;
uint8 constant ROLE_AUDITOR = 8;
uint8 constant ALL_ROLES = ROLE_DATA_ADMIN | ROLE_MODEL_DEVELOPER | ROLE_VALIDATOR | ROLE_AUDITOR;

/**
 * @dev What a model's rollback proves about an earlier record `seq`: its fields, the head before it,
 * and the record hashes of every later record, so that the contract can recompute its current head.
 */
struct RecordProof {
    uint256 seq;
    bytes28 prevHead;
    address actor;
    Activity activity;
    uint8 fromState;
    uint8 toState;
    bool accepted;
    bytes32 recordDigest;
    bytes32 recordCIDHash;
    bytes32 inputsHash;
    bytes32 outputsHash;
    bytes32[] laterRecordHashes;
}
