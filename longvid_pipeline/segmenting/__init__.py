"""segmenting"""
