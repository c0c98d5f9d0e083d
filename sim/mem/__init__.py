"""Golden models of the node SRAM and its ECC."""
