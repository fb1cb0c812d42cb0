import VitEngine
print("vitbench")
