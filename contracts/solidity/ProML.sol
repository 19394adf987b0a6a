// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Clones} from "@openzeppelin/contracts/proxy/Clones.sol";
import {DatasetAsset} from "./DatasetAsset.sol";
import {ModelAsset} from "./ModelAsset.sol";
import {ProMLGovernance} from "./ProMLGovernance.sol";
import {ProvenanceAsset} from "./ProvenanceAsset.sol";
import {Activity, AssetKind, MemberStatus, ROLE_DATA_ADMIN, ROLE_MODEL_DEVELOPER} from "./ProvenanceTypes.sol";

/**
 * @title ProML
 * @notice The consortium's registry and factory of datasets and models; its members and their
 * proposals are {ProMLGovernance}, which this contract inherits.
 *
 * Datasets and models are EIP-1167 clones of two implementations that this contract deploys in its
 * constructor; the clone's immutable arguments carry its owner and ancestors.
 */
contract ProML is ProMLGovernance {
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

    /// @notice The implementation that dataset clones delegate to. Locked against initialisation.
    address public immutable datasetImplementation;
    /// @notice The implementation that model clones delegate to. Locked against initialisation.
    address public immutable modelImplementation;

    mapping(address asset => AssetEntry) private _assets;
    address[] private _assetList;

    /// @notice A dataset or model was registered; its registration record is its seq 0.
    event AssetRegistered(
        address indexed asset,
        AssetKind indexed kind,
        address indexed owner,
        bytes32 contentDigest,
        bytes32 recordDigest,
        bytes recordCID
    );

    /// @dev `ancestor` is not a registered asset of a kind this asset may derive from.
    error InvalidAncestor(address ancestor);
    /// @dev A dataset needs the digest of its content.
    error EmptyContentDigest();
    /// @dev `asset` is not registered here.
    error NotAnAsset(address asset);
    /// @dev A batch must hold at least one record.
    error EmptyBatch();

    /// @param founderName The name of the deploying organisation, the first member, with every role.
    constructor(string memory founderName) ProMLGovernance(founderName) {
        datasetImplementation = address(new DatasetAsset(address(this)));
        modelImplementation = address(new ModelAsset(address(this)));
    }

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
     * @param records The records, in the order they are appended; at least one.
     * @return accepted For each record, whether its transition was allowed.
     */
    function recordBatch(BatchRecord[] calldata records) external returns (bool[] memory accepted) {
        if (records.length == 0) revert EmptyBatch();
        (MemberStatus status, uint8 roles) = _membership(msg.sender);
        accepted = new bool[](records.length);
        for (uint256 i = 0; i < records.length; ++i) {
            BatchRecord calldata r = records[i];
            if (_assets[r.asset].kind == AssetKind.None) revert NotAnAsset(r.asset);
            if (r.activity == Activity.Register || r.activity == Activity.Rollback || r.activity == Activity.Anchor) {
                revert UnsupportedActivity(r.activity);
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

    /**
     * @notice Whether `asset` is a dataset or model registered here.
     * @param asset Any address.
     */
    function isAsset(address asset) external view returns (bool) {
        return _assets[asset].kind != AssetKind.None;
    }

    /**
     * @notice The kind of `asset` (None if it is not registered here).
     * @param asset Any address.
     */
    function assetKind(address asset) external view returns (AssetKind) {
        return _assets[asset].kind;
    }

    /// @notice How many assets are registered.
    function assetCount() external view returns (uint256) {
        return _assetList.length;
    }

    /**
     * @notice The `index`-th registered asset, in order of registration.
     * @param index Below `assetCount()`.
     */
    function assetAt(uint256 index) external view returns (address) {
        if (index >= _assetList.length) revert IndexOutOfRange(index, _assetList.length);
        return _assetList[index];
    }

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
        // Checks-effects-interactions: the registry's own state is complete before the new clone's
        // code runs (the clone has no constructor, so creating it runs none).
        ProvenanceAsset(asset).initialize(contentDigest, recordDigest, recordCID);
    }
}
