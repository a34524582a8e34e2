"""ASC Lab core: data, features, models, training, pruning and evaluation for
data-efficient, low-complexity acoustic scene classification. No Streamlit here."""

__version__ = "0.1.0"
