"""Face data: the FaceSet table, loaders for real data sets, synthetic faces, evaluation protocols."""

from fairvision.data._faceset import FaceSet
from fairvision.data.agedb import AGEDB_BINS, age_bin_labels, load_agedb
from fairvision.data.images import check_images, load_image
from fairvision.data.celeba import CelebAAnnotations, load_celeba, load_celeba_annotations
from fairvision.data.folders import load_identity_folders, load_rfw
from fairvision.data.kinds import DATA_KINDS, RFW_MAX_IMAGES_PER_GROUP, DataKind
from fairvision.data.pairs import PAIR_FORMATS, read_pairs
from fairvision.data.protocol import frnas_eval_split, split_identities
from fairvision.data.synthetic import SyntheticFacesConfig, generate_faces, write_synthetic
from fairvision.data.torch_dataset import FaceImageDataset
from fairvision.data.vggface2 import load_vggface2

__all__ = [
    "AGEDB_BINS",
    "PAIR_FORMATS",
    "RFW_MAX_IMAGES_PER_GROUP",
    "age_bin_labels",
    "load_agedb",
    "read_pairs",
    "CelebAAnnotations",
    "DATA_KINDS",
    "DataKind",
    "FaceImageDataset",
    "FaceSet",
    "check_images",
    "load_image",
    "load_celeba",
    "load_celeba_annotations",
    "load_vggface2",
    "load_identity_folders",
    "load_rfw",
    "frnas_eval_split",
    "split_identities",
    "SyntheticFacesConfig",
    "generate_faces",
    "write_synthetic",
]
