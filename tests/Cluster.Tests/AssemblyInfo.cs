// Each test class starts its own three-process cluster; on a 2-core machine running several
// at once starves elections, so the classes run one after another.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
