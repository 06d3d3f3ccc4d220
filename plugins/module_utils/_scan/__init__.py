# Private to this collection.
