"""The Predict page's input forms, one per kind of model input (read from the model's spec)."""
