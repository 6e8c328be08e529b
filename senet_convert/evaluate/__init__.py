"""Top-1/top-5 ImageNet-style evaluation of any model senet-convert reads or writes (the `evaluate` command).

labels.py (which class each image is), classes.py (model rows against label classes),
protocol.py + images.py (file -> model input), models.py + pt2.py (loading), run.py (the scoring
loop), distributed.py (torchrun), metrics.py, official.py (published numbers), report.py, job.py.
"""
