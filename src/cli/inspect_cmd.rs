//! `orchestrace inspect`: the inspector views of a stored trace.

use super::args::InspectArgs;
use super::Failure;

pub(crate) fn inspect(_args: InspectArgs) -> Result<u8, Failure> {
    Err(Failure::invalid("inspect is not available in this build"))
}
