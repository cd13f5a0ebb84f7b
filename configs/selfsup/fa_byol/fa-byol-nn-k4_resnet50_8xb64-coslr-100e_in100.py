_base_ = './fa-byol_resnet50_8xb64-coslr-100e_in100.py'
model = dict(head=dict(augmenter=dict(type='NearestNeighborFA'), num_aug=4))
