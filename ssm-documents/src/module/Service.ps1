# Concern: the logon of the FlexNet Beacon Engine service, its restart and the wait until it runs.
# Runs on Windows PowerShell 5.1 and PowerShell 7; every access to Windows goes through the layer functions.

function Get-BpServiceLogonEntry($Entry) {
    $service = Get-BpService $Entry.service
    if ($null -eq $service) { return $null }
    return $service.startName
}

function Set-BpServiceLogonEntry($Entry, $Value, [bool]$Restore) {
    $password = $null
    if (-not $Restore) { $password = $script:BpPassword; if ($null -eq $password) { $password = '' } }
    Set-BpServiceLogon $Entry.service $Value $password
}

function Wait-BpServiceRunning([string]$Name, [int]$TimeoutSeconds) {
    $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSeconds)
    while ($true) {
        $service = Get-BpService $Name
        if ($null -ne $service -and $service.state -eq 'Running') { return }
        if ($null -eq $service -or $service.state -eq 'Stopped' -or [DateTime]::UtcNow -gt $deadline) {
            $state = 'missing'
            if ($null -ne $service) { $state = $service.state }
            throw (New-BpError 'SERVICE_START_FAILED' ('the service ' + $Name + ' did not reach Running within ' + $TimeoutSeconds + ' s (state: ' + $state + ')'))
        }
        Wait-BpInterval 2
    }
}

function Restart-BpServiceAndWait([string]$Name, [int]$TimeoutSeconds) {
    try { Restart-BpService $Name } catch { throw (New-BpError 'SERVICE_START_FAILED' ('the service ' + $Name + ' did not start: ' + $_.Exception.Message)) }
    Wait-BpServiceRunning $Name $TimeoutSeconds
}
