//! Lab 3 graded end to end (in progress).
