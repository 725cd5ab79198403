# BeaconProxy-Configure: capture, apply what differs, read everything back, roll back by itself on failure.
$BpExitCode = Invoke-BpDocument 'configure' @{ DesiredState = (Get-BpParameter 'DesiredState' '{{ DesiredState }}') }
exit $BpExitCode
