"""The counting core: the lowered loop nest, the counting conventions, and every counting rule
(reuse, multicast, spatial reduction, read-modify-write, bandwidth bound, cluster charging), written once."""
