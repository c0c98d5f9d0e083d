"""Golden models of the node datapath: matrix unit and vector unit."""
