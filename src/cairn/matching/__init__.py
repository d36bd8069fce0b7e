"""Hash sets and matching: category schemes, hash-set formats (read and write), and the indexes that match a scan.

``schemes`` keeps every category value with the scheme it belongs to; ``formats`` reads the lists agencies
exchange into normalised ``HashRecord``s without loading a whole file, and writes VICS 2.0 and plain CSV.
"""
