# A module with nothing but comments.
# Coverage counts no statements in it.
