"""cairn.review: the review web app (``cairn serve``) and its accounts (``cairn user``)."""
