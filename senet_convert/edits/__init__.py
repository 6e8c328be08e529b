"""Net -> Net edits, each still a Caffe net and each recorded in its prototxt text (notes.py):
global pooling, class order, input space, and the BatchNorm/Scale folding of the optimized graph."""
