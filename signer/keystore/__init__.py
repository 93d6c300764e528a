"""keystore"""
