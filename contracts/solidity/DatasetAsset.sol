// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ProvenanceAsset} from "./ProvenanceAsset.sol";
import {Activity, AssetKind} from "./ProvenanceTypes.sol";

/**
 * @title DatasetAsset
 * @notice A dataset as a state machine: Registered, Collected, Labelled, Preprocessed, Published,
 * Deprecated. Each activity may be repeated, and an earlier step may be redone from any later state
 * until the dataset is deprecated; labelling is optional before preprocessing. docs/contracts.md
 * shows the full table.
 */
contract DatasetAsset is ProvenanceAsset {
    /// @notice State: registered, nothing recorded since.
    uint8 public constant REGISTERED = 0;
    /// @notice State: raw data collected.
    uint8 public constant COLLECTED = 1;
    /// @notice State: labelled.
    uint8 public constant LABELLED = 2;
    /// @notice State: preprocessed (cleaned, split, transformed).
    uint8 public constant PREPROCESSED = 3;
    /// @notice State: its payload published.
    uint8 public constant PUBLISHED = 4;
    /// @notice State: must no longer be used. Final.
    uint8 public constant DEPRECATED = 5;

    uint256 private constant FROM_COLLECTED_ON = (1 << COLLECTED) | (1 << LABELLED) | (1 << PREPROCESSED) | (1 << PUBLISHED);
    uint256 private constant LIVE = (1 << REGISTERED) | FROM_COLLECTED_ON;

    /// @param registry_ The ProML registry that deploys this implementation and clones it.
    constructor(address registry_) ProvenanceAsset(registry_) {}

    /// @notice Records the collection of raw data. Owner or contributor.
    /// @param recordDigest Digest of the record document.
    /// @param recordCID CID of the record document.
    /// @param inputs Content digests of input files, or asset addresses as bytes32.
    /// @param outputs Content digests of output files, or asset addresses as bytes32.
    /// @return accepted Whether the transition was allowed from the current state.
    function collect(
        bytes32 recordDigest,
        bytes calldata recordCID,
        bytes32[] calldata inputs,
        bytes32[] calldata outputs
    ) external returns (bool accepted) {
        return _recordCallerActivity(Activity.Collect, recordDigest, recordCID, inputs, outputs);
    }

    /// @notice Records labelling. Owner or contributor.
    /// @param recordDigest Digest of the record document.
    /// @param recordCID CID of the record document.
    /// @param inputs Content digests of input files, or asset addresses as bytes32.
    /// @param outputs Content digests of output files, or asset addresses as bytes32.
    /// @return accepted Whether the transition was allowed from the current state.
    function label(
        bytes32 recordDigest,
        bytes calldata recordCID,
        bytes32[] calldata inputs,
        bytes32[] calldata outputs
    ) external returns (bool accepted) {
        return _recordCallerActivity(Activity.Label, recordDigest, recordCID, inputs, outputs);
    }

    /// @notice Records preprocessing (cleaning, splitting, transforming). Owner or contributor.
    /// @param recordDigest Digest of the record document.
    /// @param recordCID CID of the record document.
    /// @param inputs Content digests of input files, or asset addresses as bytes32.
    /// @param outputs Content digests of output files, or asset addresses as bytes32.
    /// @return accepted Whether the transition was allowed from the current state.
    function preprocess(
        bytes32 recordDigest,
        bytes calldata recordCID,
        bytes32[] calldata inputs,
        bytes32[] calldata outputs
    ) external returns (bool accepted) {
        return _recordCallerActivity(Activity.Preprocess, recordDigest, recordCID, inputs, outputs);
    }

    /// @notice Records the publication of the dataset's payload. Owner or contributor.
    /// @param recordDigest Digest of the record document.
    /// @param recordCID CID of the record document.
    /// @param inputs Content digests of input files, or asset addresses as bytes32.
    /// @param outputs Content digests of output files, or asset addresses as bytes32.
    /// @return accepted Whether the transition was allowed from the current state.
    function publish(
        bytes32 recordDigest,
        bytes calldata recordCID,
        bytes32[] calldata inputs,
        bytes32[] calldata outputs
    ) external returns (bool accepted) {
        return _recordCallerActivity(Activity.Publish, recordDigest, recordCID, inputs, outputs);
    }

    /// @notice Records that the dataset must no longer be used. Final. Owner or contributor.
    /// @param recordDigest Digest of the record document.
    /// @param recordCID CID of the record document.
    /// @param inputs Content digests of input files, or asset addresses as bytes32.
    /// @param outputs Content digests of output files, or asset addresses as bytes32.
    /// @return accepted Whether the transition was allowed from the current state.
    function deprecate(
        bytes32 recordDigest,
        bytes calldata recordCID,
        bytes32[] calldata inputs,
        bytes32[] calldata outputs
    ) external returns (bool accepted) {
        return _recordCallerActivity(Activity.Deprecate, recordDigest, recordCID, inputs, outputs);
    }

    /// @inheritdoc ProvenanceAsset
    function kind() external pure override returns (AssetKind) {
        return AssetKind.Dataset;
    }

    /// @inheritdoc ProvenanceAsset
    function _transition(
        Activity activity,
        uint8 fromState
    ) internal pure override returns (bool supported, bool allowed, uint8 toState) {
        uint256 allowedFrom;
        if (activity == Activity.Collect) {
            (allowedFrom, toState) = (LIVE, COLLECTED);
        } else if (activity == Activity.Label) {
            (allowedFrom, toState) = (FROM_COLLECTED_ON, LABELLED);
        } else if (activity == Activity.Preprocess) {
            (allowedFrom, toState) = (FROM_COLLECTED_ON, PREPROCESSED);
        } else if (activity == Activity.Publish) {
            (allowedFrom, toState) = ((1 << PREPROCESSED) | (1 << PUBLISHED), PUBLISHED);
        } else if (activity == Activity.Deprecate) {
            (allowedFrom, toState) = (LIVE, DEPRECATED);
        } else {
            return (false, false, fromState);
        }
        return (true, allowedFrom & (1 << fromState) != 0, toState);
    }
}
