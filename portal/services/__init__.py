"""The product's rules. No request, session or form objects in here: views call these."""
