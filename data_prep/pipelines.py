"""tf.data input pipelines without tf.data's autotuning thread (TensorFlow backend only).

Why (issue 48): with autotuning on (TensorFlow's default), every tf.data iterator runs a model
thread that re-tunes the pipeline on a period that doubles up to a minute. Deleting the iterator
waits until that thread's current wait ends. Keras makes a new iterator each epoch and drops the
old one at the next epoch's first step and at the end of ``fit``. So a fit whose epochs last tens
of seconds sat idle for 0 to 60 s there, with the CPU unused. Measured here on the mnist default:
about 37 s at the start of epoch 2, or 40 s at the end of the fit, and none with autotuning off
(``benchmarks/iterator_stall.py``). The zoo's pipelines are simple (a gather per batch, a parallel
decode): fixed parallelism (one call per core) and a prefetch buffer feed them as fast.
"""

from __future__ import annotations


def without_autotune(dataset):
    """``dataset`` with tf.data autotuning off: no model thread, so deleting an iterator is immediate."""
    import tensorflow as tf

    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.with_options(options)


def array_pipeline(x, y, batch_size: int, shuffle: bool):
    """NumPy arrays as the tf.data pipeline Keras' ``fit`` builds from them (the same batches in the
    same order, reshuffled each epoch when ``shuffle``), with its batch count and without autotuning.

    Keras' own array adapter is used rather than a copy of it, so that a fit fed this pipeline
    trains as one fed the arrays (tests/test_pipelines.py checks that it still does)."""
    import tensorflow as tf
    from keras.src.trainers.data_adapters.array_data_adapter import ArrayDataAdapter

    adapter = ArrayDataAdapter(x, y, batch_size=batch_size, shuffle=shuffle)
    dataset = adapter.get_tf_dataset().apply(tf.data.experimental.assert_cardinality(adapter.num_batches))
    return without_autotune(dataset)
