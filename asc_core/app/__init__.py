"""What the app's pages show, computed without Streamlit: clip and spectrogram views, the data explorer,
model views (folding, kernels), listening to mistakes, Try it, the Learn page's numbers, comparisons and
figures. Pages are thin: they lay these out."""
