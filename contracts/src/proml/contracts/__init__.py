"""ProML's Solidity contracts: sources, the compile step, committed artifacts, and a thin web3 layer."""
