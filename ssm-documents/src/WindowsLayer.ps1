# The Windows layer: the only code that touches the beacon. Same functions as the fake layer
# (ssm-documents/fake/FakeBeaconLayer.ps1); the module above calls nothing else.
# Registry access uses the 64-bit view so the explicit WOW6432Node paths mean what they say.

$script:BpNative = $null

function Initialize-BpNative {
    if ($null -ne $script:BpNative) { return }
    Add-Type -TypeDefinition @'
using System;
using System.Runtime.InteropServices;
using System.Text;
public static class BeaconProxyNative {
    [StructLayout(LayoutKind.Sequential)] struct LSA_UNICODE_STRING { public ushort Length; public ushort MaximumLength; public IntPtr Buffer; }
    [StructLayout(LayoutKind.Sequential)] struct LSA_OBJECT_ATTRIBUTES { public int Length; public IntPtr RootDirectory; public IntPtr ObjectName; public uint Attributes; public IntPtr SecurityDescriptor; public IntPtr SecurityQualityOfService; }
    [DllImport("advapi32.dll")] static extern uint LsaOpenPolicy(IntPtr system, ref LSA_OBJECT_ATTRIBUTES attributes, uint access, out IntPtr handle);
    [DllImport("advapi32.dll")] static extern uint LsaAddAccountRights(IntPtr policy, byte[] sid, LSA_UNICODE_STRING[] rights, uint count);
    [DllImport("advapi32.dll")] static extern uint LsaRemoveAccountRights(IntPtr policy, byte[] sid, [MarshalAs(UnmanagedType.U1)] bool all, LSA_UNICODE_STRING[] rights, uint count);
    [DllImport("advapi32.dll")] static extern uint LsaEnumerateAccountRights(IntPtr policy, byte[] sid, out IntPtr rights, out uint count);
    [DllImport("advapi32.dll")] static extern uint LsaFreeMemory(IntPtr buffer);
    [DllImport("advapi32.dll")] static extern uint LsaClose(IntPtr handle);
    [DllImport("advapi32.dll")] static extern int LsaNtStatusToWinError(uint status);
    [DllImport("userenv.dll", CharSet = CharSet.Unicode)] public static extern int CreateProfile(string sid, string userName, StringBuilder path, uint size);
    [DllImport("userenv.dll", CharSet = CharSet.Unicode, SetLastError = true)] public static extern bool DeleteProfile(string sid, string path, string computer);
    const uint PolicyAll = 0x00000800 | 0x00000010 | 0x00000001;
    const uint NoRights = 0xC0000034;

    static IntPtr Open() {
        LSA_OBJECT_ATTRIBUTES attributes = new LSA_OBJECT_ATTRIBUTES();
        IntPtr handle;
        Check(LsaOpenPolicy(IntPtr.Zero, ref attributes, PolicyAll, out handle), "LsaOpenPolicy");
        return handle;
    }
    static void Check(uint status, string call) {
        if (status != 0) throw new System.ComponentModel.Win32Exception(LsaNtStatusToWinError(status), call + " failed");
    }
    static LSA_UNICODE_STRING[] Rights(string right) {
        LSA_UNICODE_STRING value = new LSA_UNICODE_STRING();
        value.Buffer = Marshal.StringToHGlobalUni(right);
        value.Length = (ushort)(right.Length * 2);
        value.MaximumLength = (ushort)(right.Length * 2 + 2);
        return new LSA_UNICODE_STRING[] { value };
    }
    public static string[] GetRights(byte[] sid) {
        IntPtr policy = Open();
        try {
            IntPtr buffer; uint count;
            uint status = LsaEnumerateAccountRights(policy, sid, out buffer, out count);
            if (status == NoRights) return new string[0];
            Check(status, "LsaEnumerateAccountRights");
            try {
                string[] result = new string[count];
                int size = Marshal.SizeOf(typeof(LSA_UNICODE_STRING));
                for (int i = 0; i < count; i++) {
                    LSA_UNICODE_STRING item = (LSA_UNICODE_STRING)Marshal.PtrToStructure(new IntPtr(buffer.ToInt64() + i * size), typeof(LSA_UNICODE_STRING));
                    result[i] = Marshal.PtrToStringUni(item.Buffer, item.Length / 2);
                }
                return result;
            } finally { LsaFreeMemory(buffer); }
        } finally { LsaClose(policy); }
    }
    public static void SetRight(byte[] sid, string right, bool grant) {
        IntPtr policy = Open();
        LSA_UNICODE_STRING[] rights = Rights(right);
        try {
            if (grant) Check(LsaAddAccountRights(policy, sid, rights, 1), "LsaAddAccountRights");
            else Check(LsaRemoveAccountRights(policy, sid, false, rights, 1), "LsaRemoveAccountRights");
        } finally { Marshal.FreeHGlobal(rights[0].Buffer); LsaClose(policy); }
    }
}
'@
    $script:BpNative = $true
}

function Get-BpComputerName { return $env:COMPUTERNAME }

# ---------------------------------------------------------------- registry

function Split-BpRegistryPath([string]$Path) {
    if ($Path -match '^HKLM\\(.+)$') { return [ordered]@{ hive = [Microsoft.Win32.RegistryHive]::LocalMachine; key = $Matches[1] } }
    if ($Path -match '^HKU\\(.+)$') { return [ordered]@{ hive = [Microsoft.Win32.RegistryHive]::Users; key = $Matches[1] } }
    throw ('unsupported registry path ' + $Path)
}

function Open-BpRegistryKey([string]$Path, [bool]$Writable, [bool]$Create) {
    $parts = Split-BpRegistryPath $Path
    $base = [Microsoft.Win32.RegistryKey]::OpenBaseKey($parts.hive, [Microsoft.Win32.RegistryView]::Registry64)
    try {
        if ($Create) { return $base.CreateSubKey($parts.key) }
        return $base.OpenSubKey($parts.key, $Writable)
    } finally { $base.Dispose() }
}

function Test-BpRegistryKey([string]$Path) {
    $key = Open-BpRegistryKey $Path $false $false
    if ($null -eq $key) { return $false }
    $key.Dispose()
    return $true
}

function Get-BpRegistryValue([string]$Path, [string]$Name) {
    $key = Open-BpRegistryKey $Path $false $false
    if ($null -eq $key) { return $null }
    try {
        if (@($key.GetValueNames()) -notcontains $Name) { return $null }
        $kind = $key.GetValueKind($Name)
        $data = $key.GetValue($Name, $null, [Microsoft.Win32.RegistryValueOptions]::DoNotExpandEnvironmentNames)
        if ($kind -eq [Microsoft.Win32.RegistryValueKind]::Binary) { $data = [System.Convert]::ToBase64String([byte[]]$data) }
        return [ordered]@{ type = [string]$kind; data = $data }
    } finally { $key.Dispose() }
}

function Set-BpRegistryValue([string]$Path, [string]$Name, [string]$Type, $Data) {
    $key = Open-BpRegistryKey $Path $true $true
    try {
        $kind = [Microsoft.Win32.RegistryValueKind]$Type
        $value = $Data
        if ($kind -eq [Microsoft.Win32.RegistryValueKind]::Binary) { $value = [System.Convert]::FromBase64String([string]$Data) }
        elseif ($kind -eq [Microsoft.Win32.RegistryValueKind]::DWord) { $value = [int]$Data }
        elseif ($kind -eq [Microsoft.Win32.RegistryValueKind]::QWord) { $value = [long]$Data }
        elseif ($kind -eq [Microsoft.Win32.RegistryValueKind]::MultiString) { $value = [string[]]@($Data) }
        $key.SetValue($Name, $value, $kind)
    } finally { $key.Dispose() }
}

function Remove-BpRegistryValue([string]$Path, [string]$Name) {
    $key = Open-BpRegistryKey $Path $true $false
    if ($null -eq $key) { return }
    try { $key.DeleteValue($Name, $false) } finally { $key.Dispose() }
}

function Remove-BpRegistryKeyIfEmpty([string]$Path) {
    $key = Open-BpRegistryKey $Path $false $false
    if ($null -eq $key) { return }
    try { $empty = ($key.ValueCount -eq 0 -and $key.SubKeyCount -eq 0) } finally { $key.Dispose() }
    if (-not $empty) { return }
    $parts = Split-BpRegistryPath $Path
    $base = [Microsoft.Win32.RegistryKey]::OpenBaseKey($parts.hive, [Microsoft.Win32.RegistryView]::Registry64)
    try { $base.DeleteSubKey($parts.key, $false) } finally { $base.Dispose() }
}

# ---------------------------------------------------------------- accounts

function Resolve-BpAccount([string]$Name) {
    $wanted = $Name
    if ($wanted -match '^\.\\(.+)$') { $wanted = $env:COMPUTERNAME + '\' + $Matches[1] }
    if ($wanted -eq 'LocalSystem') { $wanted = 'NT AUTHORITY\SYSTEM' }
    try {
        $sid = (New-Object System.Security.Principal.NTAccount($wanted)).Translate([System.Security.Principal.SecurityIdentifier])
        $ntName = $sid.Translate([System.Security.Principal.NTAccount]).Value
        return [ordered]@{ sid = $sid.Value; name = $ntName }
    } catch { return $null }
}

function New-BpLocalAccount([string]$Name, [string]$Password) {
    $secure = ConvertTo-SecureString -String $Password -AsPlainText -Force
    [void](New-LocalUser -Name $Name -Password $secure -PasswordNeverExpires -AccountNeverExpires -Description 'FlexNet Beacon service account (beacon-proxy)')
}

function Remove-BpLocalAccount([string]$Sid) { Remove-LocalUser -SID $Sid }

function ConvertTo-BpSidBytes([string]$Sid) {
    $identifier = New-Object System.Security.Principal.SecurityIdentifier($Sid)
    $bytes = New-Object byte[] $identifier.BinaryLength
    $identifier.GetBinaryForm($bytes, 0)
    return , $bytes
}

# ---------------------------------------------------------------- rights (LSA) and groups (ADSI)

function Get-BpAccountRights([string]$Sid) {
    Initialize-BpNative
    return @([BeaconProxyNative]::GetRights((ConvertTo-BpSidBytes $Sid)))
}

function Add-BpAccountRight([string]$Sid, [string]$Right) { Initialize-BpNative; [BeaconProxyNative]::SetRight((ConvertTo-BpSidBytes $Sid), $Right, $true) }

function Remove-BpAccountRight([string]$Sid, [string]$Right) { Initialize-BpNative; [BeaconProxyNative]::SetRight((ConvertTo-BpSidBytes $Sid), $Right, $false) }

function Get-BpGroup([string]$GroupSid) {
    $name = (New-Object System.Security.Principal.SecurityIdentifier($GroupSid)).Translate([System.Security.Principal.NTAccount]).Value.Split('\')[-1]
    return [ADSI]('WinNT://' + $env:COMPUTERNAME + '/' + $name + ',group')
}

function Get-BpGroupMembers([string]$GroupSid) {
    $members = @()
    foreach ($member in @((Get-BpGroup $GroupSid).Invoke('Members'))) {
        $bytes = [byte[]]$member.GetType().InvokeMember('objectSid', 'GetProperty', $null, $member, $null)
        $members += (New-Object System.Security.Principal.SecurityIdentifier($bytes, 0)).Value
    }
    return $members
}

function Add-BpGroupMember([string]$GroupSid, [string]$Sid) { (Get-BpGroup $GroupSid).Add('WinNT://' + $Sid) }

function Remove-BpGroupMember([string]$GroupSid, [string]$Sid) { (Get-BpGroup $GroupSid).Remove('WinNT://' + $Sid) }

# ---------------------------------------------------------------- profiles and hives

function Get-BpProfile([string]$Sid) {
    $entry = Get-BpRegistryValue ('HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion\ProfileList\' + $Sid) 'ProfileImagePath'
    if ($null -eq $entry) { return $null }
    return [ordered]@{ path = [Environment]::ExpandEnvironmentVariables([string]$entry.data); loaded = (Test-BpRegistryKey ('HKU\' + $Sid)) }
}

function New-BpProfile([string]$Sid, [string]$Name) {
    Initialize-BpNative
    $path = New-Object System.Text.StringBuilder 260
    $hresult = [BeaconProxyNative]::CreateProfile($Sid, ($Name -split '\\')[-1], $path, 260)
    if ($hresult -ne 0) { throw ('CreateProfile failed: 0x' + $hresult.ToString('X8')) }
}

function Remove-BpProfile([string]$Sid) {
    Initialize-BpNative
    if (-not [BeaconProxyNative]::DeleteProfile($Sid, $null, $null)) { throw ('DeleteProfile failed: ' + [Runtime.InteropServices.Marshal]::GetLastWin32Error()) }
}

function Invoke-BpReg([string[]]$Arguments) {
    # On 5.1, stderr of a native command redirected with 2>&1 throws under ErrorActionPreference Stop.
    $ErrorActionPreference = 'Continue'
    $output = & "$env:SystemRoot\System32\reg.exe" @Arguments 2>&1
    if ($LASTEXITCODE -ne 0) { throw ('reg.exe ' + $Arguments[0] + ' failed: ' + (($output | ForEach-Object { [string]$_ }) -join ' ')) }
}

function Mount-BpUserHive([string]$Sid, [string]$ProfilePath) { Invoke-BpReg @('load', ('HKU\' + $Sid), (Join-Path $ProfilePath 'NTUSER.DAT')) }

function Dismount-BpUserHive([string]$Sid) { Invoke-BpReg @('unload', ('HKU\' + $Sid)) }

# ---------------------------------------------------------------- services

function Get-BpWin32Service([string]$Name) {
    $escaped = $Name.Replace('\', '\\').Replace("'", "\'")
    return Get-CimInstance -ClassName Win32_Service -Filter ("DisplayName='" + $escaped + "' OR Name='" + $escaped + "'") | Select-Object -First 1
}

function Get-BpService([string]$Name) {
    $service = Get-BpWin32Service $Name
    if ($null -eq $service) { return $null }
    return [ordered]@{ name = $service.Name; displayName = $service.DisplayName; startName = $service.StartName; state = $service.State }
}

function Set-BpServiceLogon([string]$Name, [string]$StartName, $Password) {
    $service = Get-BpWin32Service $Name
    $arguments = @{ StartName = $StartName }
    if ($null -ne $Password) { $arguments.StartPassword = [string]$Password }
    elseif ($StartName -eq 'LocalSystem') { $arguments.StartPassword = '' }
    $outcome = Invoke-CimMethod -InputObject $service -MethodName Change -Arguments $arguments
    if ($outcome.ReturnValue -ne 0) { throw ('Win32_Service.Change returned ' + $outcome.ReturnValue + ' for ' + $StartName) }
}

function Restart-BpService([string]$Name) {
    $service = Get-BpWin32Service $Name
    if ($service.State -ne 'Stopped') { Stop-Service -Name $service.Name -Force }
    Start-Service -Name $service.Name
}

# ---------------------------------------------------------------- scheduled tasks

function Find-BpTask([string]$Name) {
    $found = @()
    foreach ($task in @(Get-ScheduledTask -TaskName $Name -ErrorAction SilentlyContinue)) {
        $found += [ordered]@{ path = $task.TaskPath; name = $task.TaskName; userId = $task.Principal.UserId; logonType = [string]$task.Principal.LogonType; runLevel = [string]$task.Principal.RunLevel }
    }
    return $found
}

function Set-BpTaskPrincipal([string]$TaskPath, [string]$TaskName, [string]$UserId, [string]$LogonType, [string]$RunLevel, $Password) {
    if ($LogonType -eq 'Password' -and $null -ne $Password) {
        [void](Set-ScheduledTask -TaskPath $TaskPath -TaskName $TaskName -User $UserId -Password $Password)
        return
    }
    $principal = New-ScheduledTaskPrincipal -UserId $UserId -LogonType $LogonType -RunLevel $RunLevel
    [void](Set-ScheduledTask -TaskPath $TaskPath -TaskName $TaskName -Principal $principal)
}

# ---------------------------------------------------------------- secrets through the instance role

function Get-BpInstanceCredentials {
    $imds = 'http://169.254.169.254/latest'
    $token = Invoke-RestMethod -Method Put -Uri "$imds/api/token" -Headers @{ 'X-aws-ec2-metadata-token-ttl-seconds' = '300' } -TimeoutSec 5
    $headers = @{ 'X-aws-ec2-metadata-token' = $token }
    $role = (Invoke-RestMethod -Uri "$imds/meta-data/iam/security-credentials/" -Headers $headers -TimeoutSec 5).Trim()
    $credentials = Invoke-RestMethod -Uri "$imds/meta-data/iam/security-credentials/$role" -Headers $headers -TimeoutSec 5
    $region = Invoke-RestMethod -Uri "$imds/meta-data/placement/region" -Headers $headers -TimeoutSec 5
    return [ordered]@{ accessKey = $credentials.AccessKeyId; secretKey = $credentials.SecretAccessKey; token = $credentials.Token; region = $region }
}

function Invoke-BpAwsJson([string]$Service, [string]$Region, [string]$Target, [string]$Body, $Credentials) {
    $hostName = $Service + '.' + $Region + '.amazonaws.com'
    $headers = New-BpSigV4Headers 'POST' $hostName '/' $Body $Service $Region $Target $Credentials ([DateTime]::UtcNow)
    $response = Invoke-WebRequest -UseBasicParsing -Method Post -Uri ('https://' + $hostName + '/') -Headers $headers -Body $Body -ContentType 'application/x-amz-json-1.1' -TimeoutSec 20
    return ConvertFrom-BpJson $response.Content
}

function Get-BpSecret([string]$Reference) {
    [Net.ServicePointManager]::SecurityProtocol = [Net.ServicePointManager]::SecurityProtocol -bor [Net.SecurityProtocolType]::Tls12
    $isSecret = $Reference -like 'arn:*:secretsmanager:*'
    $region = $null
    if ($Reference -match '^arn:[^:]+:[^:]+:([^:]+):') { $region = $Matches[1] }
    if ($isSecret -and (Get-Command Get-SECSecretValue -ErrorAction SilentlyContinue)) {
        $value = (Get-SECSecretValue -SecretId $Reference -Region $region).SecretString
    } elseif (-not $isSecret -and (Get-Command Get-SSMParameter -ErrorAction SilentlyContinue)) {
        $arguments = @{ Name = $Reference; WithDecryption = $true }
        if ($region) { $arguments.Region = $region }
        $value = (Get-SSMParameter @arguments).Value
    } else {
        $credentials = Get-BpInstanceCredentials
        if (-not $region) { $region = $credentials.region }
        if ($isSecret) {
            $value = (Invoke-BpAwsJson 'secretsmanager' $region 'secretsmanager.GetSecretValue' (ConvertTo-BpJson ([ordered]@{ SecretId = $Reference })) $credentials).SecretString
        } else {
            $value = (Invoke-BpAwsJson 'ssm' $region 'AmazonSSM.GetParameter' (ConvertTo-BpJson ([ordered]@{ Name = $Reference; WithDecryption = $true })) $credentials).Parameter.Value
        }
    }
    return (Select-BpPassword $value)
}

function Get-BpBeaconVersion {
    foreach ($root in @('HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall', 'HKLM\SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall')) {
        $key = Open-BpRegistryKey $root $false $false
        if ($null -eq $key) { continue }
        try {
            foreach ($name in $key.GetSubKeyNames()) {
                $display = Get-BpRegistryValue ($root + '\' + $name) 'DisplayName'
                if ($null -ne $display -and [string]$display.data -like 'FlexNet Beacon*') {
                    $version = Get-BpRegistryValue ($root + '\' + $name) 'DisplayVersion'
                    if ($null -ne $version) { return [string]$version.data }
                }
            }
        } finally { $key.Dispose() }
    }
    return $null
}

function Get-BpCaptureDirectory { return (Join-Path $env:ProgramData 'BeaconProxy\captures') }

function Wait-BpInterval([int]$Seconds) { Start-Sleep -Seconds $Seconds }

# Called once when a document finishes; the real layer writes through at once and has nothing to flush.
function Complete-BpLayer { }

function Test-BpEndpoint([string]$Url, [string]$Proxy) {
    $first = ($Proxy -split ';')[0] -replace '^https?=', ''
    try {
        $response = Invoke-WebRequest -UseBasicParsing -Uri $Url -Proxy ('http://' + $first) -Method Head -TimeoutSec 20
        return [ordered]@{ ok = $true; status = [int]$response.StatusCode }
    } catch {
        # An HTTP error status still proves the proxy path works; no response at all does not.
        $exception = $_.Exception
        if ($exception.PSObject.Properties['Response'] -and $null -ne $exception.Response) {
            $status = [int]$exception.Response.StatusCode
            return [ordered]@{ ok = ($status -lt 500); status = $status }
        }
        return [ordered]@{ ok = $false; status = 'unreachable' }
    }
}
